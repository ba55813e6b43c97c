//! `model = "transformer"`: a real pretrained network
//! (`crate::models::transformer`) whose every genome is **measured**: the
//! linear layers' weights fake-quantized per gene (cached per layer and
//! weight precision), their input activations quantized with ranges
//! calibrated on the calibration texts, and the outputs on the evaluation
//! texts compared with the unquantized model's.
//!
//! - A BERT-family encoder (a Hugging Face folder): sentence embeddings,
//!   compared by cosine similarity or nearest-neighbour agreement.
//! - A LLaMA-family decoder (GGUF or a Hugging Face folder): next-token
//!   distributions at every position, compared like llama.cpp's
//!   `--kl-divergence` (top-1 agreement, KL, perplexity). The genes cover the
//!   block linear layers; the head and the token embedding stay as loaded.
//!
//! The reference is the model as stored (for a GGUF with quantized tensors,
//! their dequantized values: a gene whose grid contains the stored one
//! re-quantizes it almost losslessly). With `layer_groups = "role"` one gene
//! covers the same linear in every block; the members have identical shapes,
//! so the cost model's per-layer sums are exact for the group. Costs: each
//! linear layer runs once per token of a `tokens`-token sequence (MACs and
//! activations scale with `tokens`, weights are read once); embeddings,
//! norms, biases (and a decoder's head) are fixed parameters whose compute
//! the cost model leaves out.
//!
//! `screen_texts` makes the search cheap: [`TransformerModel::screen`] is the
//! same model measured on the first N evaluation texts, and the study
//! re-measures the final front and the baselines on all of them.

use super::adapters::layer_quant;
use super::genome::{Genome, LayerGene};
use super::model::{ModelLayer, QuantModel};
use super::params::{LayerGroups, Params, TransformerMetric};
use crate::error::{Error, Result};
use crate::hw::LayerShape;
use crate::models::transformer::decoder;
use crate::models::transformer::linear::Linear;
use crate::models::transformer::llama::Llama;
use crate::models::transformer::session::{Net, Session, SessionSpec};
use crate::models::transformer::{self, CALIB_TEXT, EVAL_TEXT, ModelKind};
use crate::nn::LayerQuant;
use crate::studies::StudyError;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// The network with its texts and reference, shared between trials.
pub struct TransformerModel {
    session: Arc<Session>,
    /// Genes, as the cost model sees them (a group's shape is its members' sum).
    layers: Vec<ModelLayer>,
    /// Per gene, the linear layers it covers (indices into the runtime's
    /// linear list) and their own shapes.
    members: Vec<Vec<(usize, ModelLayer)>>,
    /// Linear layers the runtime has (a decoder's head is one, never a gene).
    n_linears: usize,
    fixed_params: u64,
    metric: TransformerMetric,
    description: String,
    source: String,
    screen_source: String,
    n_texts: usize,
    screen: Option<usize>,
    fp32: f64,
    fp32_screen: f64,
}

/// The built-in corpora's sizes, the limits of `eval_texts`/`calib_texts`.
pub fn corpus_sizes() -> (usize, usize) {
    (
        transformer::lines(EVAL_TEXT).len(),
        transformer::lines(CALIB_TEXT).len(),
    )
}

/// What `model_path` names, checked without loading the weights.
pub fn check_path(path: &Path) -> Result<ModelKind> {
    crate::models::transformer::session::check_model(path)
}

fn layer_of(l: &Linear, tokens: u64) -> ModelLayer {
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
}

/// The genome's linear layers as the cost model sees them: one use per
/// token of a `tokens`-token sequence, weights read once (a decoder's head
/// is left out: it stays as loaded).
pub fn layers_of(linears: &[&Linear], tokens: u64) -> Vec<ModelLayer> {
    linears.iter().map(|l| layer_of(l, tokens)).collect()
}

/// A layer's role: its name with the block number replaced by `*`
/// (`blk.3.attn_q` → `blk.*.attn_q`).
pub fn role_of(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    match parts
        .iter()
        .position(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(i) => {
            let mut p = parts.clone();
            p[i] = "*";
            p.join(".")
        }
        None => name.to_string(),
    }
}

/// Genes and their members: one per layer, or one per role in order of
/// first appearance, the group's shape the sum of its members'.
#[allow(clippy::type_complexity)]
fn group(
    layers: Vec<ModelLayer>,
    groups: LayerGroups,
) -> (Vec<ModelLayer>, Vec<Vec<(usize, ModelLayer)>>) {
    let mut genes: Vec<ModelLayer> = Vec::new();
    let mut members: Vec<Vec<(usize, ModelLayer)>> = Vec::new();
    for (i, l) in layers.into_iter().enumerate() {
        let key = match groups {
            LayerGroups::Layer => l.name.clone(),
            LayerGroups::Role => role_of(&l.name),
        };
        match genes.iter().position(|g| g.name == key) {
            Some(k) => {
                let s = &mut genes[k].shape;
                s.weights += l.shape.weights;
                s.rows += l.shape.rows;
                s.macs += l.shape.macs;
                s.weight_reads += l.shape.weight_reads;
                s.act_in += l.shape.act_in;
                s.act_out += l.shape.act_out;
                members[k].push((i, l));
            }
            None => {
                genes.push(ModelLayer {
                    name: key,
                    ..l.clone()
                });
                members.push(vec![(i, l)]);
            }
        }
    }
    (genes, members)
}

/// The genes and fixed parameters of the model at `path`, for validation
/// (loads the weights; no forward pass).
pub fn shapes(p: &Params, path: &Path) -> Result<(Vec<ModelLayer>, u64)> {
    let (linears, fixed) = match check_path(path)? {
        k @ (ModelKind::BertFolder(_) | ModelKind::BertGguf(_)) => {
            let (m, _) = crate::models::transformer::bert::load(k.path(), k.is_gguf())?;
            let l = layers_of(&m.linears(), p.tokens);
            (l, m.other_params() as u64)
        }
        ModelKind::Gguf(f) => decoder_shapes(&decoder::load(&f, true)?.0, p.tokens),
        ModelKind::LlamaFolder(d) => decoder_shapes(&decoder::load(&d, false)?.0, p.tokens),
    };
    Ok((group(linears, p.layer_groups).0, fixed))
}

fn decoder_shapes(m: &Llama, tokens: u64) -> (Vec<ModelLayer>, u64) {
    let all = m.linears();
    let blocks = &all[..all.len() - 1];
    let head = if m.tied {
        0
    } else {
        all[all.len() - 1].w.len()
    };
    let fixed = m.embedding.w.len() + m.norm_params() + head;
    (layers_of(blocks, tokens), fixed as u64)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().to_string())
}

impl TransformerModel {
    pub fn load(p: &Params, path: &Path) -> Result<TransformerModel> {
        let kind = check_path(path)?;
        let decoder_model = !kind.is_encoder();
        if p.transformer_metric.for_decoder() != decoder_model {
            return Err(Error::user(format!(
                "transformer_metric = \"{}\" is for {}; {} is {}",
                crate::params::Choice::name(p.transformer_metric),
                if decoder_model {
                    "encoders"
                } else {
                    "decoders"
                },
                path.display(),
                if decoder_model {
                    "a decoder (use top1_agreement, kl_fidelity or perplexity_ratio)"
                } else {
                    "an encoder (use mean_cosine, min_cosine or nn_agreement)"
                }
            )));
        }
        let name = file_name(path);
        let session = Session::shared(
            path,
            &SessionSpec {
                eval_texts: p.eval_texts,
                calib_texts: p.calib_texts,
                max_seq_len: p.max_seq_len,
            },
        )?;
        let (linears, fixed_params, description, reference) = match &session.net {
            Net::Encoder(s) => {
                let c = &s.model.config;
                (
                    layers_of(&s.model.linears(), p.tokens),
                    s.model.other_params() as u64,
                    format!(
                        "{name} (BERT encoder, {} layers, hidden {})",
                        c.num_hidden_layers, c.hidden_size
                    ),
                    "sentence embeddings vs the unquantized model (f32 weights as stored)",
                )
            }
            Net::Decoder(s) => {
                let (linears, fixed) = decoder_shapes(&s.model, p.tokens);
                let c = &s.model.config;
                (
                    linears,
                    fixed,
                    format!(
                        "{name} (LLaMA decoder, {} blocks, hidden {}; head and token embedding as loaded)",
                        c.n_layers, c.hidden
                    ),
                    if session.gguf {
                        "next-token distributions vs the model as stored (GGUF tensors dequantized to f32)"
                    } else {
                        "next-token distributions vs the unquantized model (weights as stored)"
                    },
                )
            }
        };
        let n_linears = session.linears().len();
        let tokens = session.tokens();
        let n_texts = tokens.len();
        let n_tokens: usize = tokens.iter().map(Vec::len).sum();
        let screen = (p.screen_texts > 0).then_some(p.screen_texts.min(n_texts));
        let screen_tokens: usize = tokens.iter().take(screen.unwrap_or(0)).map(Vec::len).sum();
        let (layers, members) = group(linears, p.layer_groups);
        let grouping = match p.layer_groups {
            LayerGroups::Layer => String::new(),
            LayerGroups::Role => format!("; one gene per layer role ({} roles)", layers.len()),
        };
        let describe = |n: usize, tok: usize| {
            format!(
                "measured: {} of {reference} on {n} built-in evaluation texts ({tok} tokens, at most {} each); activation ranges calibrated on {} built-in calibration texts{grouping}",
                p.transformer_metric.describe(),
                p.max_seq_len,
                p.calib_texts
            )
        };
        let mut m = TransformerModel {
            session: session.clone(),
            layers,
            members,
            n_linears,
            fixed_params,
            metric: p.transformer_metric,
            description,
            source: describe(n_texts, n_tokens),
            screen_source: format!("screen: {}", describe(screen.unwrap_or(0), screen_tokens)),
            n_texts,
            screen,
            fp32: 0.0,
            fp32_screen: 0.0,
        };
        let fp32 = vec![LayerGene::FP32; m.n_linears];
        m.fp32 = m.quality(&fp32, n_texts)?;
        m.fp32_screen = match screen {
            Some(k) => m.quality(&fp32, k)?,
            None => m.fp32,
        };
        Ok(m)
    }

    /// Start cold: forget memoised measurements and prepared weights
    /// (the genome-evaluation benchmark's cold case).
    pub fn clear_caches(&self) {
        self.session.clear_caches();
    }

    /// The search's view when `screen_texts` is set: the same model measured
    /// on the first `screen_texts` evaluation texts.
    pub fn screen(&self) -> Option<Screen<'_>> {
        self.screen.map(|_| Screen(self))
    }

    /// One gene per runtime linear layer from the genome (a decoder's head
    /// stays as loaded).
    fn expand(&self, g: &Genome) -> Vec<LayerGene> {
        let mut genes = vec![LayerGene::FP32; self.n_linears];
        for (gene, members) in g.layers.iter().zip(&self.members) {
            for (i, _) in members {
                genes[*i] = *gene;
            }
        }
        genes
    }

    fn quality(&self, genes: &[LayerGene], n_texts: usize) -> Result<f64> {
        let quant: Vec<LayerQuant> = genes.iter().map(layer_quant).collect();
        // Debug of the genes is canonical: equal strings, equal genes.
        self.session
            .measure(format!("{genes:?}"), &quant, n_texts, self.metric)
    }

    fn measure_all(&self, genomes: &[&Genome], n_texts: usize) -> Result<Vec<f64>, StudyError> {
        genomes
            .par_iter()
            .map(|g| {
                self.quality(&self.expand(g), n_texts)
                    .map_err(StudyError::from)
            })
            .collect()
    }
}

/// [`TransformerModel`] measured on the screen's texts.
pub struct Screen<'a>(&'a TransformerModel);

impl QuantModel for Screen<'_> {
    fn description(&self) -> String {
        self.0.description.clone()
    }
    fn accuracy_source(&self) -> &str {
        &self.0.screen_source
    }
    fn layers(&self) -> &[ModelLayer] {
        &self.0.layers
    }
    fn members(&self, gene: usize) -> Vec<ModelLayer> {
        self.0.members(gene)
    }
    fn fixed_params(&self) -> u64 {
        self.0.fixed_params
    }
    fn fp32_accuracy(&self) -> f64 {
        self.0.fp32_screen
    }
    fn accuracies(&self, genomes: &[&Genome]) -> std::result::Result<Vec<f64>, StudyError> {
        self.0
            .measure_all(genomes, self.0.screen.unwrap_or(usize::MAX))
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
    fn members(&self, gene: usize) -> Vec<ModelLayer> {
        self.members[gene].iter().map(|(_, l)| l.clone()).collect()
    }
    fn fixed_params(&self) -> u64 {
        self.fixed_params
    }
    fn fp32_accuracy(&self) -> f64 {
        self.fp32
    }
    fn accuracies(&self, genomes: &[&Genome]) -> std::result::Result<Vec<f64>, StudyError> {
        self.measure_all(genomes, self.n_texts)
    }
    fn screen(&self) -> Option<Box<dyn QuantModel + '_>> {
        TransformerModel::screen(self).map(|s| Box::new(s) as Box<dyn QuantModel>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_replace_the_block_number() {
        assert_eq!(role_of("blk.12.attn_q"), "blk.*.attn_q");
        assert_eq!(
            role_of("encoder.layer.3.attention.self.query"),
            "encoder.layer.*.attention.self.query"
        );
        assert_eq!(role_of("output"), "output");
    }

    #[test]
    fn role_groups_sum_identical_members() {
        let shape = |r: u64| LayerShape {
            weights: r * 4,
            rows: r,
            cols: 4,
            macs: r * 4 * 2,
            weight_reads: r * 4,
            act_in: 8,
            act_out: r * 2,
        };
        let l = |n: &str, r: u64| ModelLayer {
            name: n.into(),
            kind: "Linear".into(),
            shape: shape(r),
        };
        let layers = vec![l("b.0.q", 2), l("b.0.up", 3), l("b.1.q", 2), l("b.1.up", 3)];
        let (genes, members) = group(layers.clone(), LayerGroups::Role);
        assert_eq!(
            genes.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["b.*.q", "b.*.up"]
        );
        assert_eq!(genes[0].shape.weights, 16);
        assert_eq!(genes[1].shape.act_in, 16);
        assert_eq!(members[1].iter().map(|m| m.0).collect::<Vec<_>>(), [1, 3]);
        let (genes, _) = group(layers, LayerGroups::Layer);
        assert_eq!(genes.len(), 4);
    }
}
