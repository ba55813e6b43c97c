//! `model = "transformer"`: a real pretrained BERT-family sentence encoder
//! (`crate::models::transformer`) whose every genome is **measured**: the
//! linear layers' weights fake-quantized per gene (cached per layer and
//! weight precision), their input activations quantized with ranges
//! calibrated on the calibration texts, and the sentence embeddings of the
//! evaluation texts compared with the unquantized model's.
//!
//! The quality searched is `transformer_metric`: the mean or minimum cosine
//! similarity of each text's embedding to the reference embedding, or the
//! fraction of texts whose nearest other text is unchanged. The reference is
//! the model as stored (f32 safetensors). Costs: each linear layer runs once
//! per token of a `tokens`-token sequence (MACs and activations scale with
//! `tokens`, weights are read once); embeddings, norms and biases are the
//! unquantized fixed parameters.

use super::adapters::layer_quant;
use super::genome::Genome;
use super::model::{ModelLayer, QuantModel};
use super::params::{Params, TransformerMetric};
use crate::error::{Error, Result};
use crate::hw::LayerShape;
use crate::models::transformer::bert::Bert;
use crate::models::transformer::{self, CALIB_TEXT, EVAL_TEXT, EncoderSession, ModelKind};
use crate::nn::LayerQuant;
use crate::studies::StudyError;
use rayon::prelude::*;
use std::path::Path;

/// The encoder with its texts and reference, built once per trial.
pub struct TransformerModel {
    session: EncoderSession,
    layers: Vec<ModelLayer>,
    fixed_params: u64,
    metric: TransformerMetric,
    description: String,
    source: String,
    fp32: f64,
}

/// The built-in corpora's sizes, the limits of `eval_texts`/`calib_texts`.
pub fn corpus_sizes() -> (usize, usize) {
    (
        transformer::lines(EVAL_TEXT).len(),
        transformer::lines(CALIB_TEXT).len(),
    )
}

/// What `model_path` names, checked without loading the weights: a BERT
/// folder (exit 2 otherwise, naming the path and the fetch script).
pub fn check_path(path: &Path) -> Result<()> {
    if !path.exists() {
        return Err(Error::user(format!(
            "{}: no such model folder; `bash scripts/fetch-models.sh` fetches all-MiniLM-L6-v2 into models/",
            path.display()
        )));
    }
    match transformer::resolve(&path.display().to_string())? {
        ModelKind::BertFolder(_) => Ok(()),
        _ => Err(Error::user(format!(
            "{}: mixed_precision measures BERT-family encoders (a Hugging Face folder); decoders are measured by `evoquant eval`",
            path.display()
        ))),
    }
}

/// The encoder's linear layers as the cost model sees them: one use per
/// token of a `tokens`-token sequence, weights read once.
pub fn layers_of(model: &Bert, tokens: u64) -> Vec<ModelLayer> {
    model
        .linears()
        .iter()
        .map(|l| {
            let (out, inp) = (l.out as u64, l.inp as u64);
            ModelLayer {
                name: l.name.clone(),
                kind: "Linear".into(),
                shape: LayerShape {
                    weights: out * inp,
                    rows: out,
                    cols: inp,
                    macs: out * inp * tokens,
                    weight_reads: out * inp,
                    act_in: inp * tokens,
                    act_out: out * tokens,
                },
            }
        })
        .collect()
}

impl TransformerModel {
    pub fn load(p: &Params, path: &Path) -> Result<TransformerModel> {
        check_path(path)?;
        let texts: Vec<String> = transformer::lines(EVAL_TEXT)
            .into_iter()
            .take(p.eval_texts)
            .collect();
        let calib: Vec<String> = transformer::lines(CALIB_TEXT)
            .into_iter()
            .take(p.calib_texts)
            .collect();
        // The ambient pool: the runner's, whatever its size; results do not
        // depend on it.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .build()
            .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
        let session = EncoderSession::new(path, &texts, &calib, p.max_seq_len, &pool)?;
        let layers = layers_of(&session.model, p.tokens);
        let name = path
            .file_name()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().to_string());
        let c = &session.model.config;
        let description = format!(
            "{name} (BERT encoder, {} layers, hidden {})",
            c.num_hidden_layers, c.hidden_size
        );
        let n_tokens: usize = session.tokens.iter().map(Vec::len).sum();
        let source = format!(
            "measured: {} of sentence embeddings vs the unquantized model (f32 weights as stored) on {} built-in evaluation texts ({n_tokens} tokens, at most {} each); activation ranges calibrated on {} built-in calibration texts",
            p.transformer_metric.describe(),
            session.tokens.len(),
            p.max_seq_len,
            p.calib_texts
        );
        let fixed_params = session.model.other_params() as u64;
        let mut m = TransformerModel {
            session,
            layers,
            fixed_params,
            metric: p.transformer_metric,
            description,
            source,
            fp32: 0.0,
        };
        let n = m.layers.len();
        m.fp32 = m.quality(&vec![LayerQuant::FP32; n])?;
        Ok(m)
    }

    fn quality(&self, quant: &[LayerQuant]) -> Result<f64> {
        let r = self.session.measure(quant)?;
        Ok(match self.metric {
            TransformerMetric::MeanCosine => r.mean_cosine,
            TransformerMetric::MinCosine => r.min_cosine,
            TransformerMetric::NnAgreement => r.nn_agreement,
        })
    }
}

impl QuantModel for TransformerModel {
    fn description(&self) -> String {
        self.description.clone()
    }
    fn accuracy_source(&self) -> &str {
        &self.source
    }
    fn layers(&self) -> &[ModelLayer] {
        &self.layers
    }
    fn fixed_params(&self) -> u64 {
        self.fixed_params
    }
    fn fp32_accuracy(&self) -> f64 {
        self.fp32
    }
    fn accuracies(&self, genomes: &[&Genome]) -> std::result::Result<Vec<f64>, StudyError> {
        genomes
            .par_iter()
            .map(|g| {
                let quant: Vec<LayerQuant> = g.layers.iter().map(layer_quant).collect();
                self.quality(&quant).map_err(StudyError::from)
            })
            .collect()
    }
}
