//! The two other models behind [`QuantModel`]:
//!
//! - [`MlpModel`]: the glyph classifier of `crate::nn::classifier`, trained in
//!   process; a genome's accuracy is **measured** on the held-out split with
//!   quantized weights and quantized activations (ranges calibrated on the
//!   calibration split with the gene's method).
//! - [`SafetensorsModel`]: a layer inventory imported from a `.safetensors`
//!   file. Each layer's relative weight MSE at 2, 3, 4, 6, 8 and 16 bits is
//!   measured on the file's own tensors (`crate::models::safetensors`) and
//!   turned into a sensitivity curve by a stated **model**:
//!   `loss_l(b) = 1 − exp(−relMSE_l(b) · params_l / Σ params)`, i.e. the
//!   retention of a uniform configuration is exp(−parameter-weighted mean
//!   relative MSE). The inventory-model adjustments for scheme, granularity
//!   and calibration then apply as for built-in inventories. Without a graph
//!   the cost model assumes each weight is used once per inference (a
//!   batch-1 GEMV per layer: MACs = weights, activations = rows + cols).

use super::genome::{Genome, LayerGene};
use super::model::{InventoryModel, ModelLayer, QuantModel};
use crate::hw::LayerShape;
use crate::models::{
    LayerInfo, LayerType, Precision, SensitivityCurve, ShapedInventory, ShapedLayer,
};
use crate::nn::{ActQuant, ClassifierTask, LayerQuant, WeightQuant};
use crate::quant::{QuantSpec, ScaleDtype};

/// Percentile used by percentile calibration (the document's 99.9th).
pub const PERCENTILE: f32 = 99.9;

/// The trained classifier.
pub struct MlpModel {
    task: ClassifierTask,
    layers: Vec<ModelLayer>,
    /// Quantization-aware fine-tuning before each measurement: (epochs, seed).
    qat: Option<(usize, u64)>,
}

/// The classifier's layers from its `[outputs, inputs]` shapes: one sample
/// per inference.
pub fn mlp_layers(shapes: &[[usize; 2]]) -> Vec<ModelLayer> {
    let n = shapes.len();
    shapes
        .iter()
        .enumerate()
        .map(|(i, &[out, inp])| {
            let (out, inp) = (out as u64, inp as u64);
            ModelLayer {
                name: format!("fc{i}"),
                kind: if i + 1 == n { "Classifier" } else { "Linear" }.to_string(),
                shape: LayerShape {
                    weights: out * inp,
                    rows: out,
                    cols: inp,
                    macs: out * inp,
                    weight_reads: out * inp,
                    act_in: inp,
                    act_out: out,
                },
            }
        })
        .collect()
}

/// Shapes of an imported file's layers (header only).
pub fn safetensors_layers(
    file: &crate::models::safetensors::SafetensorsModel,
    tokens: u64,
) -> Vec<ModelLayer> {
    file.layers
        .iter()
        .map(|l| ModelLayer {
            name: l.name.clone(),
            kind: layer_type(l).name().to_string(),
            shape: imported_shape(l, tokens),
        })
        .collect()
}

fn rows_cols(l: &crate::models::safetensors::ImportedLayer) -> (u64, u64) {
    let rows = l.rows.max(1) as u64;
    (rows, l.params / rows)
}

fn layer_type(l: &crate::models::safetensors::ImportedLayer) -> LayerType {
    if l.shape.len() == 4 {
        LayerType::Conv
    } else if crate::models::safetensors::is_embedding(&l.name) {
        LayerType::Embedding
    } else {
        LayerType::Linear
    }
}

/// An imported layer's cost shape at `tokens` positions: embedding tables
/// are lookups (no MACs, only their tokens' rows read), everything else a
/// matrix product (a convolution as one output position per token: the
/// header gives no feature-map size).
fn imported_shape(l: &crate::models::safetensors::ImportedLayer, tokens: u64) -> LayerShape {
    let (rows, cols) = rows_cols(l);
    match layer_type(l) {
        LayerType::Embedding => LayerShape::lookup(rows, cols, tokens),
        _ => LayerShape::gemm(rows, cols, tokens),
    }
}

impl MlpModel {
    pub fn new(task: ClassifierTask) -> MlpModel {
        let layers = mlp_layers(&task.layer_shapes());
        MlpModel {
            task,
            layers,
            qat: None,
        }
    }

    /// Measure every configuration after `epochs` epochs of
    /// quantization-aware fine-tuning with its own weight quantizers
    /// (`ClassifierTask::fine_tuned`; shuffles from `seed`). 0 = off.
    pub fn with_qat(mut self, epochs: usize, seed: u64) -> MlpModel {
        self.qat = (epochs > 0).then_some((epochs, seed));
        self
    }

    pub fn task(&self) -> &ClassifierTask {
        &self.task
    }
}

/// The per-layer request for a gene (classifier, transformer runtime).
pub fn layer_quant(g: &LayerGene) -> LayerQuant {
    let weights = match g.weight_bits {
        _ if g.extreme().is_some() => WeightQuant::Extreme(g.extreme().expect("checked")),
        _ if g.ggml_format().is_some() => WeightQuant::Ggml(g.ggml_format().expect("checked")),
        _ if g.fp8_weights() => WeightQuant::Fp8 {
            per_channel: g.granularity != crate::quant::Granularity::PerTensor,
        },
        32.. => WeightQuant::Fp32,
        16..=31 => WeightQuant::Fp16,
        bits => WeightQuant::Int(QuantSpec {
            bits,
            scheme: g.weight_scheme,
            granularity: g.granularity,
            group_size: usize::from(g.group_size),
            calibration: g.calibration,
            percentile: PERCENTILE,
            scale_dtype: ScaleDtype::F16,
        }),
    };
    let activations = match g.activation_bits {
        _ if g.fp8_activations() => ActQuant::Fp8 {
            calibration: g.calibration,
            percentile: PERCENTILE,
        },
        32.. => ActQuant::Fp32,
        16..=31 => ActQuant::Fp16,
        bits => ActQuant::Int {
            bits,
            scheme: g.activation_scheme,
            calibration: g.calibration,
            percentile: PERCENTILE,
        },
    };
    LayerQuant {
        weights,
        activations,
    }
}

impl QuantModel for MlpModel {
    fn description(&self) -> String {
        let c = self.task.config();
        format!(
            "glyph MLP {:?} ({} classes, {}x{} px)",
            c.layer_sizes(),
            c.classes,
            c.image_size,
            c.image_size
        )
    }
    fn accuracy_source(&self) -> &str {
        "measured: held-out test split, quantized weights and activations"
    }
    fn layers(&self) -> &[ModelLayer] {
        &self.layers
    }
    fn fixed_params(&self) -> u64 {
        // Biases stay in float.
        self.layers.iter().map(|l| l.shape.rows).sum()
    }
    fn fp32_accuracy(&self) -> f64 {
        self.task.fp32_accuracy()
    }
    fn accuracies(&self, genomes: &[&Genome]) -> Result<Vec<f64>, crate::studies::StudyError> {
        super::model::measure_in_parallel(genomes, |g| self.accuracy(g))
    }
}

impl MlpModel {
    /// Measured accuracy of one configuration on the held-out split (after
    /// quantization-aware fine-tuning when enabled).
    pub fn accuracy(&self, genome: &Genome) -> f64 {
        match self.qat {
            None => measure(&self.task, genome),
            Some((epochs, seed)) => {
                let shapes = self.task.layer_shapes();
                let tuned = self.task.fine_tuned(epochs, seed, &|l, w| {
                    gene_weights(&genome.layers[l], w, &shapes[l])
                });
                measure(&tuned, genome)
            }
        }
    }
}

fn measure(task: &ClassifierTask, genome: &Genome) -> f64 {
    let request: Vec<LayerQuant> = genome.layers.iter().map(layer_quant).collect();
    task.accuracy(&request)
}

/// A layer's effective weights under a gene's weight quantizer (the
/// arithmetic of `quant`: `fake_quantize`, the f16 round trip, or the
/// binary / ternary kernels).
///
/// # Panics
/// If a validated gene fails to quantize (a programming error).
pub fn gene_weights(g: &LayerGene, w: &[f32], shape: &[usize; 2]) -> Vec<f32> {
    let mut out = vec![0.0; w.len()];
    if let Err(e) = layer_quant(g).weights.fake_quantize(w, shape, &mut out) {
        panic!("weight quantization failed for a validated gene: {e}");
    }
    out
}

/// Build an inventory model from a measured safetensors file.
pub fn safetensors_inventory(
    file: &crate::models::safetensors::SafetensorsModel,
    tokens: u64,
) -> crate::error::Result<InventoryModel> {
    let total: u64 = file.layer_params().max(1);
    let n = file.layers.len();
    if n == 0 {
        return Err(crate::error::Error::user(format!(
            "{}: no 2-D or 4-D weight tensors to quantize",
            file.path.display()
        )));
    }
    let mut layers = Vec::with_capacity(n);
    for (index, l) in file.layers.iter().enumerate() {
        if l.quant_error.is_empty() {
            return Err(crate::error::Error::user(format!(
                "{}: tensor `{}` has dtype {}, whose quantization error cannot be measured",
                file.path.display(),
                l.name,
                l.dtype
            )));
        }
        let share = l.params as f64 / total as f64;
        let mut losses = [0.0; 7];
        for p in Precision::ALL {
            let bits = match p {
                Precision::Fp32 => continue,
                Precision::Fp16 => 16,
                other => other.bits() as u8,
            };
            let err = l
                .quant_error
                .iter()
                .find(|(b, _)| *b == bits)
                .map(|(_, e)| *e)
                .ok_or_else(|| {
                    crate::error::Error::user(format!(
                        "tensor `{}`: no error measured at {bits} bits",
                        l.name
                    ))
                })?;
            losses[p.index()] = -(-(err * share)).exp_m1();
        }
        let pos = if n > 1 {
            index as f64 / (n - 1) as f64
        } else {
            0.0
        };
        layers.push(ShapedLayer {
            info: LayerInfo {
                name: l.name.clone(),
                layer_type: layer_type(l),
                index,
                relative_position: pos,
                params: l.params,
                sensitivity: SensitivityCurve(losses),
                gradient_sensitivity: 0.0,
                weight_std: 0.0,
                activation_range: 0.0,
            },
            shape: imported_shape(l, tokens),
        });
    }
    let name = file
        .path
        .file_name()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().to_string());
    Ok(InventoryModel::with_source(
        ShapedInventory {
            name: name.clone(),
            family: format!("safetensors `{name}`"),
            layers,
            fixed_params: file.other_params,
        },
        "model: measured per-layer weight relative MSE mapped to accuracy loss (not a measured accuracy)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::TaskConfig;
    use crate::quant::Granularity;

    /// The small glyph task the MLP tests train (a few seconds in release).
    fn small_task_config() -> TaskConfig {
        TaskConfig {
            train_size: 600,
            test_size: 300,
            calibration_size: 100,
            epochs: 4,
            ..TaskConfig::default()
        }
    }

    fn small_task(seed: u64) -> ClassifierTask {
        ClassifierTask::build(&small_task_config(), seed).unwrap()
    }

    /// An imported embedding table is a lookup: typed Embedding, no MACs,
    /// only its tokens' rows read; the linear layers run on every token.
    /// Before: it was typed Linear and costed as a matrix product.
    #[test]
    fn imported_embeddings_are_costed_as_lookups() {
        use safetensors::tensor::{Dtype, TensorView};
        let bytes = |n: usize| -> Vec<u8> {
            (0..n)
                .flat_map(|i| (((i * 31 % 17) as f32 - 8.0) / 9.0).to_le_bytes())
                .collect()
        };
        let (embed, q, head) = (bytes(100 * 8), bytes(8 * 8), bytes(100 * 8));
        let tensors = vec![
            (
                "lm_head.weight",
                TensorView::new(Dtype::F32, vec![100, 8], &head).unwrap(),
            ),
            (
                "model.layers.0.q.weight",
                TensorView::new(Dtype::F32, vec![8, 8], &q).unwrap(),
            ),
            (
                "model.embed_tokens.weight",
                TensorView::new(Dtype::F32, vec![100, 8], &embed).unwrap(),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        std::fs::write(&path, safetensors::serialize(tensors, None).unwrap()).unwrap();
        let file = crate::models::safetensors::read(&path).unwrap();
        let model = safetensors_inventory(&file, 4).unwrap();
        let layers = model.layers();
        let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "model.embed_tokens.weight",
                "model.layers.0.q.weight",
                "lm_head.weight"
            ]
        );
        let kinds: Vec<&str> = layers.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                LayerType::Embedding.name(),
                LayerType::Linear.name(),
                LayerType::Linear.name()
            ]
        );
        assert_eq!(layers[0].shape, LayerShape::lookup(100, 8, 4));
        assert_eq!(
            (layers[0].shape.macs, layers[0].shape.weight_reads),
            (0, 4 * 8)
        );
        assert_eq!(layers[1].shape.macs, 8 * 8 * 4);
        assert_eq!(layers[2].shape, LayerShape::gemm(100, 8, 4));
        assert_eq!(safetensors_layers(&file, 4), layers.to_vec());
    }

    /// The cost model's weight bytes are the bytes `quant` packs for the
    /// same gene (codes, f16 scales, zero points), so the study's
    /// bits_per_weight equals what `evoquant eval` counts. Regression: a
    /// power-of-two scale was counted as 1 byte, packed as 2.
    #[test]
    fn modelled_weight_bytes_equal_the_packed_bytes() {
        use crate::quant::{Calibration, QuantizedTensor, Scheme};
        use crate::studies::mixed_precision::genome::GROUP_SIZES;
        let (rows, cols) = (24usize, 100usize);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let shape = LayerShape::gemm(rows as u64, cols as u64, 1);
        for bits in [2u8, 3, 4, 6, 8] {
            for scheme in [Scheme::Symmetric, Scheme::Asymmetric, Scheme::PowerOfTwo] {
                for (granularity, group_size) in [
                    (Granularity::PerTensor, 128),
                    (Granularity::PerChannel, 128),
                    (Granularity::PerGroup, GROUP_SIZES[0]),
                    (Granularity::PerGroup, GROUP_SIZES[2]),
                ] {
                    let g = LayerGene {
                        weight_bits: bits,
                        weight_scheme: scheme,
                        granularity,
                        group_size,
                        calibration: Calibration::MinMax,
                        ..LayerGene::int(bits, 8, granularity)
                    };
                    let WeightQuant::Int(spec) = layer_quant(&g).weights else {
                        panic!("integer gene")
                    };
                    let packed = QuantizedTensor::quantize(&w, &[rows, cols], &spec)
                        .unwrap()
                        .size_bytes();
                    let (modelled, _) = crate::hw::cost::weight_bytes(&shape, &g.choice());
                    assert_eq!(modelled, packed as f64, "{g:?}");
                }
            }
        }
    }

    /// Binary and ternary genes are measured through the sign kernels
    /// (`quant::binary`), and quantization-aware fine-tuning recovers
    /// accuracy the post-training quantization lost.
    #[test]
    fn binary_ternary_are_measured_and_qat_recovers_accuracy() {
        let m = MlpModel::new(small_task(2));
        let n = m.layers().len();
        let gene = |bits, ternary| LayerGene {
            ternary,
            ..LayerGene::int(bits, 8, Granularity::PerChannel)
        };
        let w8 = m.accuracy(&Genome::uniform(gene(8, false), n));
        let binary = m.accuracy(&Genome::uniform(gene(1, false), n));
        let ternary = m.accuracy(&Genome::uniform(gene(2, true), n));
        let int2 = m.accuracy(&Genome::uniform(gene(2, false), n));
        assert!(w8 > binary && w8 > ternary, "{w8} {binary} {ternary}");
        // Ternary is not INT2: another quantizer, another accuracy.
        assert_ne!(ternary, int2);
        // The measured weights are the kernel's.
        let shapes = m.task().layer_shapes();
        let w = m.task().layer_weights(0);
        let mut expect = vec![0.0; w.len()];
        let spec = gene(1, false).extreme().unwrap();
        crate::quant::binary::fake_quantize_extreme(w, &shapes[0], &spec, &mut expect).unwrap();
        assert_eq!(gene_weights(&gene(1, false), w, &shapes[0]), expect);
        // QAT at binary weights: fine-tuning through the quantizer helps.
        let qat = MlpModel::new(small_task(2)).with_qat(3, 9);
        let tuned = qat.accuracy(&Genome::uniform(gene(1, false), n));
        assert!(tuned > binary, "QAT {tuned} vs PTQ {binary}");
        assert_eq!(tuned, qat.accuracy(&Genome::uniform(gene(1, false), n)));
    }

    #[test]
    fn fp8_genes_are_measured_through_the_e4m3_kernels() {
        let m = MlpModel::new(small_task(3));
        let n = m.layers().len();
        let fp8 = LayerGene {
            fp8: true,
            weight_scheme: crate::quant::Scheme::Symmetric,
            activation_scheme: crate::quant::Scheme::Symmetric,
            ..LayerGene::int(8, 8, Granularity::PerChannel)
        };
        let q = layer_quant(&fp8);
        assert_eq!(q.weights, WeightQuant::Fp8 { per_channel: true });
        assert!(matches!(q.activations, ActQuant::Fp8 { .. }));
        let shapes = m.task().layer_shapes();
        let w = m.task().layer_weights(0);
        let mut expect = vec![0.0; w.len()];
        crate::quant::fp8::fake_quantize(w, shapes[0][0], &mut expect).unwrap();
        assert_eq!(gene_weights(&fp8, w, &shapes[0]), expect);
        let fp32 = m.fp32_accuracy();
        let a = m.accuracy(&Genome::uniform(fp8, n));
        // 8-bit floats keep a glyph classifier within a few points of FP32,
        // through their own arithmetic (not INT8's).
        assert!((a - fp32).abs() < 0.05, "{a} vs {fp32}");
        let int8 = m.accuracy(&Genome::uniform(LayerGene { fp8: false, ..fp8 }, n));
        let weights_only = m.accuracy(&Genome::uniform(
            LayerGene {
                activation_bits: 32,
                ..fp8
            },
            n,
        ));
        assert!(a != int8 || a != weights_only, "{a} {int8} {weights_only}");
    }

    #[test]
    fn mlp_accuracy_is_measured_and_falls_at_two_bits() {
        let cfg = small_task_config();
        let m = MlpModel::new(small_task(1));
        let n = m.layers().len();
        let fp32 = m.accuracy(&Genome::uniform(LayerGene::FP32, n));
        assert_eq!(fp32, m.fp32_accuracy());
        let w8 = m.accuracy(&Genome::uniform(
            LayerGene::int(8, 8, Granularity::PerChannel),
            n,
        ));
        let w2 = m.accuracy(&Genome::uniform(
            LayerGene::int(2, 8, Granularity::PerTensor),
            n,
        ));
        assert!(w8 > w2, "w8 {w8} w2 {w2}");
        assert_eq!(
            m.fixed_params(),
            cfg.layer_sizes()[1..].iter().sum::<usize>() as u64
        );
    }
}
