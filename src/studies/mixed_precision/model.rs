//! The model under study, behind one small trait so the search, the
//! baselines and the exports do not care whether accuracy is measured (a
//! trained network run with quantized weights and activations) or modelled
//! (a layer inventory with per-layer sensitivity curves).
//!
//! **Inventory accuracy model** (a model, stated as such in every output).
//! Each layer has the bit-allocation study's sensitivity curve `loss(p)`
//! (accuracy loss when only that layer is stored at precision `p`). A gene's
//! quantizer choices shift its *effective* bits, interpolated log-linearly
//! between the curve's points (INT2, INT3, INT4, INT6, INT8 and FP16 ≈ 11
//! significand bits):
//!
//! ```text
//! w_eff = w + G(granularity) + S_w(weight scheme) + C_w(calibration)
//! a_eff = a + S_a(activation scheme) + C_a(calibration)
//! loss_l = 1 − (1 − loss(w_eff)) · (1 − ½ · loss(a_eff))
//! retention = Π_l (1 − loss_l)
//! ```
//!
//! with G = 0 per-tensor, +0.5 per-channel, +0.5 + 0.25·log2(256/g) per-group
//! of g; S_w = −0.5 for power-of-two scales (a scale rounded up to 2^k wastes
//! on average half a bit), S_a = −0.5 symmetric / −1 power-of-two activations
//! (half of a signed range is unused by one-sided activations); C_w = +0.25
//! for MSE-optimal clipping, C_a = −0.5 for min-max on activations (outliers
//! stretch the range) and +0.1 for MSE. 16- and 32-bit genes are floats and
//! use the curve's FP16 / FP32 points directly. These constants are
//! illustrative magnitudes, not measurements; the `mlp` model measures.

use super::genome::{Calibration, Genome, Granularity, LayerGene, Scheme};
use crate::hw::LayerShape;
use crate::models::{Precision, SensitivityCurve, ShapedInventory};
use crate::studies::StudyError;
use rayon::prelude::*;

/// One quantizable layer as the search sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelLayer {
    pub name: String,
    pub kind: String,
    pub shape: LayerShape,
}

/// A model whose per-layer configuration the study searches.
pub trait QuantModel: Sync {
    /// What the model is (`LLaMA-7B-like inventory`).
    fn description(&self) -> String;
    /// Where accuracy comes from, printed in every output.
    fn accuracy_source(&self) -> &str;
    fn layers(&self) -> &[ModelLayer];
    /// Parameters that are never quantized (norms, biases), stored in FP16.
    fn fixed_params(&self) -> u64;
    /// Accuracy of the unquantized model (1.0 for a retention model).
    fn fp32_accuracy(&self) -> f64;
    /// Accuracy of each configuration (one gene per layer), in order. One
    /// call per batch, so a model served by other processes can spread the
    /// batch over its workers; results must not depend on how it does.
    /// An error (an external evaluator that crashed) fails the trial.
    fn accuracies(&self, genomes: &[&Genome]) -> Result<Vec<f64>, StudyError>;
    /// The real layers gene `gene` configures (a group's members; the gene's
    /// own layer by default), for the exported configuration.
    fn members(&self, gene: usize) -> Vec<ModelLayer> {
        vec![self.layers()[gene].clone()]
    }
    /// A cheaper view of the same model for the search (measured on fewer
    /// texts), whose final front the study re-measures with `self`.
    fn screen(&self) -> Option<Box<dyn QuantModel + '_>> {
        None
    }
}

/// `accuracies` for an in-process model: `measure` on rayon, in order.
pub fn measure_in_parallel(
    genomes: &[&Genome],
    measure: impl Fn(&Genome) -> f64 + Sync,
) -> Result<Vec<f64>, StudyError> {
    Ok(genomes.par_iter().map(|g| measure(g)).collect())
}

/// A real-shape inventory with the sensitivity model above.
pub struct InventoryModel {
    description: String,
    source: &'static str,
    layers: Vec<ModelLayer>,
    curves: Vec<SensitivityCurve>,
    fixed_params: u64,
}

impl InventoryModel {
    pub fn new(inv: ShapedInventory) -> InventoryModel {
        Self::with_source(inv, "model: per-layer sensitivity curves (not measured)")
    }

    /// An inventory whose curves come from `source` (printed in outputs).
    pub fn with_source(inv: ShapedInventory, source: &'static str) -> InventoryModel {
        InventoryModel {
            description: format!("{} inventory", inv.family),
            source,
            curves: inv.layers.iter().map(|l| l.info.sensitivity).collect(),
            layers: inv
                .layers
                .into_iter()
                .map(|l| ModelLayer {
                    name: l.info.name,
                    kind: l.info.layer_type.name().to_string(),
                    shape: l.shape,
                })
                .collect(),
            fixed_params: inv.fixed_params,
        }
    }
}

/// The curve's integer points, by bits: (bits, precision).
const POINTS: [(f64, Precision); 6] = [
    (2.0, Precision::Int2),
    (3.0, Precision::Int3),
    (4.0, Precision::Int4),
    (6.0, Precision::Int6),
    (8.0, Precision::Int8),
    (11.0, Precision::Fp16),
];

/// Loss at fractional effective bits, log-linear between curve points and
/// extrapolated with the end slopes; always in [0, 0.999].
pub fn loss_at_bits(curve: &SensitivityCurve, bits: f64) -> f64 {
    let ln = |p: Precision| curve.loss(p).max(1e-300).ln();
    let seg = POINTS
        .windows(2)
        .position(|w| bits <= w[1].0)
        .unwrap_or(POINTS.len() - 2);
    let (b0, p0) = POINTS[seg];
    let (b1, p1) = POINTS[seg + 1];
    let t = (bits - b0) / (b1 - b0);
    let l = ln(p0) + t * (ln(p1) - ln(p0));
    l.exp().clamp(0.0, 0.999)
}

fn granularity_bonus(g: &LayerGene) -> f64 {
    match g.granularity {
        Granularity::PerTensor => 0.0,
        Granularity::PerChannel => 0.5,
        Granularity::PerGroup | Granularity::Block => {
            0.5 + 0.25 * (256.0 / f64::from(g.group_size.max(1))).log2()
        }
    }
}

fn weight_loss(curve: &SensitivityCurve, g: &LayerGene) -> f64 {
    match g.weight_bits {
        32.. => curve.loss(Precision::Fp32),
        16..=31 => curve.loss(Precision::Fp16),
        // FP8 at the integer width with INT8's error on normal data
        // (measured once, `quant::fp8::int_bits_equivalent`), per channel
        // or per tensor as the gene says.
        _ if g.fp8_weights() => loss_at_bits(
            curve,
            crate::quant::fp8::int_bits_equivalent() + granularity_bonus(g),
        ),
        w => {
            let scheme = if g.weight_scheme == Scheme::PowerOfTwo {
                -0.5
            } else {
                0.0
            };
            let cal = if g.calibration == Calibration::Mse {
                0.25
            } else {
                0.0
            };
            // Ternary codes carry log2(3) ≈ 1.58 bits of information.
            let w = if g.ternary { 3f64.log2() } else { f64::from(w) };
            loss_at_bits(curve, w + granularity_bonus(g) + scheme + cal)
        }
    }
}

fn activation_loss(curve: &SensitivityCurve, g: &LayerGene) -> f64 {
    let loss = match g.activation_bits {
        32.. => curve.loss(Precision::Fp32),
        16..=31 => curve.loss(Precision::Fp16),
        // Symmetric (−0.5 against the asymmetric baseline, as for integers).
        _ if g.fp8_activations() => {
            loss_at_bits(curve, crate::quant::fp8::int_bits_equivalent() - 0.5)
        }
        a => {
            let scheme = match g.activation_scheme {
                Scheme::Asymmetric | Scheme::AsymmetricClipped => 0.0,
                Scheme::Symmetric => -0.5,
                Scheme::PowerOfTwo => -1.0,
            };
            let cal = match g.calibration {
                Calibration::MinMax => -0.5,
                Calibration::Mse => 0.1,
                _ => 0.0,
            };
            loss_at_bits(curve, f64::from(a) + scheme + cal)
        }
    };
    0.5 * loss
}

impl QuantModel for InventoryModel {
    fn description(&self) -> String {
        self.description.clone()
    }
    fn accuracy_source(&self) -> &str {
        self.source
    }
    fn layers(&self) -> &[ModelLayer] {
        &self.layers
    }
    fn fixed_params(&self) -> u64 {
        self.fixed_params
    }
    fn fp32_accuracy(&self) -> f64 {
        1.0
    }
    fn accuracies(&self, genomes: &[&Genome]) -> Result<Vec<f64>, StudyError> {
        measure_in_parallel(genomes, |g| self.accuracy(g))
    }
}

impl InventoryModel {
    /// The modelled retention of one configuration.
    pub fn accuracy(&self, genome: &Genome) -> f64 {
        let mut log_acc = 0.0;
        for (curve, g) in self.curves.iter().zip(&genome.layers) {
            let keep = (1.0 - weight_loss(curve, g)) * (1.0 - activation_loss(curve, g));
            log_acc += keep.ln();
        }
        log_acc.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Family;

    fn model() -> InventoryModel {
        InventoryModel::new(Family::Resnet50Like.shaped(42, 1))
    }

    #[test]
    fn interpolation_hits_the_curve_points_and_is_monotone() {
        let m = Family::Resnet50Like.shaped(42, 1);
        let c = m.layers[3].info.sensitivity;
        for (b, p) in POINTS {
            assert!((loss_at_bits(&c, b) - c.loss(p)).abs() < 1e-12 * c.loss(p).max(1e-30));
        }
        let mut prev = 1.0;
        for i in 0..60 {
            let l = loss_at_bits(&c, 1.5 + 0.2 * i as f64);
            assert!(l <= prev);
            prev = l;
        }
    }

    #[test]
    fn fp32_is_lossless_and_fewer_bits_cost_accuracy() {
        let m = model();
        let n = m.layers().len();
        assert_eq!(m.accuracy(&Genome::uniform(LayerGene::FP32, n)), 1.0);
        let acc = |w, a| {
            m.accuracy(&Genome::uniform(
                LayerGene::int(w, a, Granularity::PerChannel),
                n,
            ))
        };
        assert!(acc(8, 8) > acc(4, 8));
        assert!(acc(4, 8) > acc(2, 8));
        assert!(acc(8, 8) > acc(8, 4));
        // Per-channel scales beat per-tensor at the same bits.
        let tensor = m.accuracy(&Genome::uniform(
            LayerGene::int(4, 8, Granularity::PerTensor),
            n,
        ));
        assert!(acc(4, 8) > tensor);
    }
}
