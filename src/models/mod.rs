//! Layer inventories shared by the bit-allocation and mixed-precision studies:
//! the precision set, layer types, synthetic model families with fixed seeds,
//! JSON files with located errors, and the accuracy model that turns per-layer
//! losses into model accuracy and bit counts into compression.

pub mod accuracy;
pub mod gguf;
pub mod io;
pub mod layer;
pub mod precision;
pub mod safetensors;
pub mod shapes;
pub mod synthetic;
pub mod transformer;

pub use accuracy::{Evaluation, evaluate, log_retention};
pub use layer::{Inventory, LayerInfo, LayerType, SensitivityCurve};
pub use precision::Precision;
pub use shapes::{ShapedInventory, ShapedLayer};
pub use synthetic::{Family, Split};
