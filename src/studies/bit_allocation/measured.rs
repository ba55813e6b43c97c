//! A bit-allocation dataset measured on a real network instead of the
//! synthetic curves, and allocations re-measured on it.
//!
//! For every linear layer of the model (a decoder's head stays as loaded)
//! and every precision of the study, the layer alone is stored at that
//! precision (weights only: INTn symmetric per-channel min-max, FP16 round to
//! nearest even; activations and every other layer unquantized) and the
//! network's quality against the unquantized model is measured on the
//! built-in evaluation texts: mean cosine similarity of sentence embeddings
//! for an encoder, exp(−mean KL) of the next-token distributions for a
//! decoder. The layer's loss at that precision is `1 − quality` (FP32 is 0
//! by definition, and a measured improvement counts as 0). The other fields
//! the heuristics read are measured too: type (attention projections are
//! `Attention`, feed-forward layers `Linear`), position, parameter count,
//! the standard deviation of its weights and the largest |input| on the
//! calibration texts. `gradient_sensitivity` is not a gradient: it is the
//! layer's measured INT4 loss divided by the largest INT4 loss of the model,
//! the measured signal closest to what the field means.
//!
//! A whole allocation (every layer at its own precision) is measured the
//! same way, which is how the study checks the product model
//! `accuracy = Π (1 − loss_l)` against the network.

use crate::error::{Error, Result};
use crate::models::transformer::session::{Quality, Session, SessionSpec};
use crate::models::{Inventory, LayerInfo, LayerType, Precision, SensitivityCurve};
use crate::quant::{ActQuant, LayerQuant, QuantSpec, WeightQuant};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// The measured dataset and the session that measures allocations.
pub struct Measured {
    pub inventory: Inventory,
    session: Arc<Session>,
    quality: Quality,
    /// Linear layers the runtime has; the inventory's are the first ones.
    n_linears: usize,
}

/// A layer stored at `p`, weights only.
pub fn weight_only(p: Precision) -> LayerQuant {
    let weights = match p {
        Precision::Fp32 => WeightQuant::Fp32,
        Precision::Fp16 => WeightQuant::Fp16,
        int => WeightQuant::Int(QuantSpec::per_channel(int.bits() as u8)),
    };
    LayerQuant {
        weights,
        activations: ActQuant::Fp32,
    }
}

fn layer_type(name: &str) -> LayerType {
    if name.contains("attention") || name.contains("attn") {
        LayerType::Attention
    } else {
        LayerType::Linear
    }
}

fn std_dev(w: &[f32]) -> f64 {
    let n = w.len().max(1) as f64;
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (w.iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

impl Measured {
    /// Measure the dataset of the model at `path` (exit 2 for a missing or
    /// unsupported model).
    pub fn load(path: &Path, spec: &SessionSpec) -> Result<Measured> {
        let session = Session::shared(path, spec)?;
        let quality = if session.is_decoder() {
            Quality::KlFidelity
        } else {
            Quality::MeanCosine
        };
        let linears = session.linears();
        let n_linears = linears.len();
        // A decoder's head stays as loaded.
        let n = if session.is_decoder() {
            n_linears - 1
        } else {
            n_linears
        };
        if n == 0 {
            return Err(Error::user(format!(
                "{}: no linear layers to measure",
                path.display()
            )));
        }
        let m = Measured {
            inventory: Inventory {
                name: "measured".into(),
                family: String::new(),
                layers: Vec::new(),
            },
            session: session.clone(),
            quality,
            n_linears,
        };
        // One probe per layer × non-FP32 precision, measured in parallel.
        let probes: Vec<(usize, Precision)> = (0..n)
            .flat_map(|l| {
                Precision::ALL
                    .into_iter()
                    .filter(|&p| p != Precision::Fp32)
                    .map(move |p| (l, p))
            })
            .collect();
        let measured: Vec<f64> = probes
            .par_iter()
            .map(|&(l, p)| {
                let mut alloc = vec![Precision::Fp32; n];
                alloc[l] = p;
                m.measure(&alloc)
            })
            .collect::<Result<_>>()?;
        let mut curves = vec![[0.0f64; 7]; n];
        for (&(l, p), q) in probes.iter().zip(&measured) {
            // A loss must lie in [0, 1); a measured gain counts as no loss.
            curves[l][p.index()] = (1.0 - q).clamp(0.0, 1.0 - 1e-12);
        }
        let int4 = Precision::Int4.index();
        let max4 = curves.iter().map(|c| c[int4]).fold(0.0, f64::max);
        let layers = linears[..n]
            .iter()
            .enumerate()
            .map(|(i, l)| LayerInfo {
                name: l.name.clone(),
                layer_type: layer_type(&l.name),
                index: i,
                relative_position: if n > 1 {
                    i as f64 / (n - 1) as f64
                } else {
                    0.0
                },
                params: l.w.len() as u64,
                sensitivity: SensitivityCurve(curves[i]),
                gradient_sensitivity: if max4 > 0.0 {
                    curves[i][int4] / max4
                } else {
                    0.0
                },
                weight_std: std_dev(&l.w),
                activation_range: f64::from(session.input_range(i).unwrap_or(0.0)),
            })
            .collect();
        let file = path
            .file_name()
            .map_or_else(|| "model".into(), |f| f.to_string_lossy().to_string());
        Ok(Measured {
            inventory: Inventory {
                name: "measured".into(),
                family: format!(
                    "{file} (measured: {} on {} built-in texts)",
                    m.describe(),
                    session.tokens().len()
                ),
                layers,
            },
            ..m
        })
    }

    /// What the quality is.
    pub fn describe(&self) -> &'static str {
        match self.quality {
            Quality::KlFidelity => {
                "exp(-mean KL) of next-token distributions vs the model as loaded"
            }
            _ => "mean cosine similarity of sentence embeddings vs the unquantized model",
        }
    }

    /// The network's measured quality with every inventory layer at its
    /// precision in `allocation`.
    pub fn measure(&self, allocation: &[Precision]) -> Result<f64> {
        let mut quant = vec![LayerQuant::FP32; self.n_linears];
        for (q, &p) in quant.iter_mut().zip(allocation) {
            *q = weight_only(p);
        }
        let key: Vec<&str> = allocation.iter().map(|p| p.name()).collect();
        self.session
            .measure(key.join(","), &quant, usize::MAX, self.quality)
    }
}
