//! A fully connected network whose parameters live in one flat `f32` vector.
//!
//! Why flat: evolution treats the network as a genome (crossover and mutation
//! work gene by gene on `&[f32]`), quantizers want one contiguous weight
//! matrix per layer, and a future gradient trainer wants a gradient vector of
//! the same layout. So the *shape* ([`MlpShape`]) is separate from the
//! *parameters* (any `&[f32]` of length [`MlpShape::param_count`]): a
//! population is just a list of vectors, and the forward pass borrows one.
//!
//! Layout, layer by layer: the weight matrix row-major `[outputs][inputs]`,
//! then the bias `[outputs]`. Hidden layers use `tanh`; the output layer is
//! linear, so callers choose their own squashing (a policy maps outputs to
//! steering and throttle; a classifier would apply softmax).
//!
//! The forward pass is allocation-free: it ping-pongs between two buffers of a
//! reusable [`Scratch`]. [`MlpShape::forward_with`] exposes a hook on every
//! layer's output so that a quantized-activation forward can be layered on
//! top without copying this loop.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::ops::Range;

/// Why a shape or parameter vector was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnError {
    #[error("an MLP needs at least an input and an output size, got {0:?}")]
    TooFewLayers(Vec<usize>),
    #[error("layer sizes must be positive, got {0:?}")]
    ZeroWidth(Vec<usize>),
    #[error("expected {expected} parameters, got {got}")]
    ParamCount { expected: usize, got: usize },
    /// A classifier task or per-layer quantization request that cannot run;
    /// the message names the field and the accepted range.
    #[error("invalid classifier task: {0}")]
    InvalidTask(String),
    /// A per-layer quantization request the kernels refuse.
    #[error(transparent)]
    Quant(#[from] crate::quant::QuantError),
}

/// Where one layer's tensors sit in the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerLayout {
    pub inputs: usize,
    pub outputs: usize,
    /// Row-major `[outputs][inputs]` weights.
    pub weights: Range<usize>,
    /// `[outputs]` biases, directly after the weights.
    pub bias: Range<usize>,
}

impl LayerLayout {
    /// The weight tensor's shape as quantizers expect it: `[outputs, inputs]`.
    pub fn weight_shape(&self) -> [usize; 2] {
        [self.outputs, self.inputs]
    }
}

/// Borrowed view of one layer's tensors.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    pub inputs: usize,
    pub outputs: usize,
    pub weights: &'a [f32],
    pub bias: &'a [f32],
}

/// Layer sizes and the parameter layout they imply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlpShape {
    sizes: Vec<usize>,
    layers: Vec<LayerLayout>,
    param_count: usize,
    max_width: usize,
}

impl MlpShape {
    /// `sizes` = `[inputs, hidden…, outputs]`.
    pub fn new(sizes: &[usize]) -> Result<Self, NnError> {
        if sizes.len() < 2 {
            return Err(NnError::TooFewLayers(sizes.to_vec()));
        }
        if sizes.contains(&0) {
            return Err(NnError::ZeroWidth(sizes.to_vec()));
        }
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        let mut offset = 0;
        for pair in sizes.windows(2) {
            let (inputs, outputs) = (pair[0], pair[1]);
            let weights = offset..offset + inputs * outputs;
            let bias = weights.end..weights.end + outputs;
            offset = bias.end;
            layers.push(LayerLayout {
                inputs,
                outputs,
                weights,
                bias,
            });
        }
        Ok(MlpShape {
            sizes: sizes.to_vec(),
            layers,
            param_count: offset,
            max_width: sizes.iter().copied().max().unwrap_or(0),
        })
    }

    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }
    pub fn outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }
    /// Total number of weights and biases.
    pub fn param_count(&self) -> usize {
        self.param_count
    }
    /// Number of weights (biases excluded): what weight quantization covers.
    pub fn weight_count(&self) -> usize {
        self.layers.iter().map(|l| l.weights.len()).sum()
    }
    pub fn layouts(&self) -> &[LayerLayout] {
        &self.layers
    }

    /// Views of every layer's tensors inside `params`.
    pub fn layers<'a>(&'a self, params: &'a [f32]) -> impl Iterator<Item = Layer<'a>> + 'a {
        assert_eq!(params.len(), self.param_count, "parameter vector length");
        self.layers.iter().map(move |l| Layer {
            inputs: l.inputs,
            outputs: l.outputs,
            weights: &params[l.weights.clone()],
            bias: &params[l.bias.clone()],
        })
    }

    /// A scratch buffer big enough for this shape's forward pass.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            a: vec![0.0; self.max_width],
            b: vec![0.0; self.max_width],
        }
    }

    /// Parameters drawn i.i.d. from N(0, σ²) — the usual neuroevolution start.
    pub fn random_params<R: Rng + ?Sized>(&self, sigma: f32, rng: &mut R) -> Vec<f32> {
        (0..self.param_count)
            .map(|_| {
                let z: f32 = StandardNormal.sample(rng);
                sigma * z
            })
            .collect()
    }

    /// Forward pass; the returned slice (length [`outputs`](Self::outputs))
    /// borrows `scratch`.
    ///
    /// # Panics
    /// If `params` or `input` has the wrong length, or `scratch` was made for
    /// a narrower shape: all programming errors, not data errors.
    pub fn forward<'s>(
        &self,
        params: &[f32],
        input: &[f32],
        scratch: &'s mut Scratch,
    ) -> &'s [f32] {
        self.forward_with(params, input, scratch, |_, _| {})
    }

    /// Forward pass calling `hook(layer_index, activations)` on each layer's
    /// output after its nonlinearity (tanh for hidden layers, identity for the
    /// last), so a caller can e.g. fake-quantize activations in place.
    pub fn forward_with<'s, F>(
        &self,
        params: &[f32],
        input: &[f32],
        scratch: &'s mut Scratch,
        mut hook: F,
    ) -> &'s [f32]
    where
        F: FnMut(usize, &mut [f32]),
    {
        assert_eq!(params.len(), self.param_count, "parameter vector length");
        assert_eq!(input.len(), self.inputs(), "input length");
        assert!(scratch.a.len() >= self.max_width && scratch.b.len() >= self.max_width);
        let Scratch { a, b } = scratch;
        a[..input.len()].copy_from_slice(input);
        let (mut src, mut dst) = (a, b);
        let last = self.layers.len() - 1;
        for (index, l) in self.layers.iter().enumerate() {
            let w = &params[l.weights.clone()];
            let bias = &params[l.bias.clone()];
            let x = &src[..l.inputs];
            for ((out, row), &b0) in dst[..l.outputs]
                .iter_mut()
                .zip(w.chunks_exact(l.inputs))
                .zip(bias)
            {
                let mut acc = b0;
                for (&wi, &xi) in row.iter().zip(x) {
                    acc += wi * xi;
                }
                *out = if index == last { acc } else { acc.tanh() };
            }
            hook(index, &mut dst[..l.outputs]);
            std::mem::swap(&mut src, &mut dst);
        }
        &src[..self.outputs()]
    }
}

/// Reusable activation buffers for [`MlpShape::forward`].
#[derive(Clone, Debug)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

/// A shape together with owned parameters, for when a single network is
/// passed around (a champion, a trained model).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub shape: MlpShape,
    pub params: Vec<f32>,
}

impl Mlp {
    pub fn new(shape: MlpShape, params: Vec<f32>) -> Result<Self, NnError> {
        if params.len() != shape.param_count() {
            return Err(NnError::ParamCount {
                expected: shape.param_count(),
                got: params.len(),
            });
        }
        Ok(Mlp { shape, params })
    }

    pub fn forward<'s>(&self, input: &[f32], scratch: &'s mut Scratch) -> &'s [f32] {
        self.shape.forward(&self.params, input, scratch)
    }

    pub fn layers(&self) -> impl Iterator<Item = Layer<'_>> + '_ {
        self.shape.layers(&self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn layout_is_weights_then_bias_per_layer() {
        let s = MlpShape::new(&[3, 2, 1]).unwrap();
        assert_eq!(s.param_count(), 3 * 2 + 2 + 2 + 1);
        assert_eq!(s.weight_count(), 8);
        let l = s.layouts();
        assert_eq!((l[0].weights.clone(), l[0].bias.clone()), (0..6, 6..8));
        assert_eq!((l[1].weights.clone(), l[1].bias.clone()), (8..10, 10..11));
        assert_eq!(l[0].weight_shape(), [2, 3]);
    }

    #[test]
    fn rejects_degenerate_shapes() {
        assert!(matches!(MlpShape::new(&[4]), Err(NnError::TooFewLayers(_))));
        assert!(matches!(
            MlpShape::new(&[4, 0, 2]),
            Err(NnError::ZeroWidth(_))
        ));
        let s = MlpShape::new(&[2, 1]).unwrap();
        assert!(Mlp::new(s, vec![0.0; 2]).is_err());
    }

    #[test]
    fn forward_matches_hand_computation() {
        // Hidden: h0 = tanh(1·x0 − 1·x1 + 0.5), h1 = tanh(2·x1 − 0.25).
        // Output: y = 0.5·h0 − 1·h1 + 0.1 (linear).
        let s = MlpShape::new(&[2, 2, 1]).unwrap();
        let p = [1.0, -1.0, 0.0, 2.0, 0.5, -0.25, 0.5, -1.0, 0.1];
        let x = [0.3f32, -0.2];
        let h0 = (0.3f32 + 0.2 + 0.5).tanh();
        let h1 = (2.0f32 * -0.2 - 0.25).tanh();
        let want = 0.5 * h0 - h1 + 0.1;
        let mut scratch = s.scratch();
        let y = s.forward(&p, &x, &mut scratch);
        assert_eq!(y.len(), 1);
        assert!((y[0] - want).abs() < 1e-6, "{} vs {want}", y[0]);
    }

    #[test]
    fn scratch_reuse_gives_identical_results_and_hook_sees_every_layer() {
        let s = MlpShape::new(&[5, 7, 3, 2]).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let p = s.random_params(0.7, &mut rng);
        let mut scratch = s.scratch();
        let first = s
            .forward(&p, &[0.1, 0.2, 0.3, 0.4, 0.5], &mut scratch)
            .to_vec();
        let _ = s.forward(&p, &[9.0; 5], &mut scratch);
        let mut seen = Vec::new();
        let again = s
            .forward_with(&p, &[0.1, 0.2, 0.3, 0.4, 0.5], &mut scratch, |i, a| {
                seen.push((i, a.len()))
            })
            .to_vec();
        assert_eq!(first, again);
        assert_eq!(seen, vec![(0, 7), (1, 3), (2, 2)]);
    }

    #[test]
    fn hook_can_rewrite_activations() {
        let s = MlpShape::new(&[1, 1]).unwrap();
        let mut scratch = s.scratch();
        let y = s.forward_with(&[2.0, 0.0], &[1.5], &mut scratch, |_, a| {
            a[0] = a[0].round()
        });
        assert_eq!(y, [3.0]);
    }
}
