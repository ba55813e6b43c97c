//! Minibatch backpropagation with Adam and softmax cross-entropy.
//!
//! Why in-process training rather than a stored model: the study needs a
//! network whose accuracy is *measured*, built from nothing but the seed, so
//! every trial is reproducible and no weights are shipped. Training is one
//! thread and fixed-order arithmetic, so the same seed gives the same bits
//! on any machine with IEEE f32 (trial-level parallelism is the runner's).
//!
//! Adam (Kingma & Ba, 2015) with β1 = 0.9, β2 = 0.999, ε = 1e-8, the paper's
//! defaults; the step size decays linearly to 10% of `learning_rate` over the
//! run, which settles the last epochs without a schedule parameter.

use super::glyphs::Samples;
use super::linalg::{axpy, dot};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Hidden-layer nonlinearity (the output layer is linear, then softmax).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x): unbounded activations, so the calibration method matters.
    Relu,
    /// tanh: activations bounded to (−1, 1).
    Tanh,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }

    #[inline(always)]
    pub(crate) fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
        }
    }

    /// Derivative expressed through the activation's output `a`.
    #[inline(always)]
    fn grad_from_output(self, a: f32) -> f32 {
        match self {
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - a * a,
        }
    }
}

/// Trained parameters: per layer, row-major `[outputs][inputs]` weights and
/// `[outputs]` biases.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Net {
    pub sizes: Vec<usize>,
    pub weights: Vec<Vec<f32>>,
    pub biases: Vec<Vec<f32>>,
    pub activation: Activation,
}

impl Net {
    pub fn layers(&self) -> usize {
        self.weights.len()
    }

    /// He initialisation for ReLU, Glorot-style 1/fan_in for tanh; zero biases.
    fn init<R: Rng + ?Sized>(sizes: &[usize], activation: Activation, rng: &mut R) -> Net {
        let gain = match activation {
            Activation::Relu => 2.0f32,
            Activation::Tanh => 1.0,
        };
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for w in sizes.windows(2) {
            let sigma = (gain / w[0] as f32).sqrt();
            weights.push(
                (0..w[0] * w[1])
                    .map(|_| {
                        let z: f32 = StandardNormal.sample(rng);
                        sigma * z
                    })
                    .collect(),
            );
            biases.push(vec![0.0; w[1]]);
        }
        Net {
            sizes: sizes.to_vec(),
            weights,
            biases,
            activation,
        }
    }

    /// Float forward of one sample; `acts[l]` receives layer l's input
    /// (`acts[0]` = the sample) and `acts[L]` the logits.
    fn forward_into(&self, x: &[f32], acts: &mut [Vec<f32>]) {
        acts[0].copy_from_slice(x);
        let last = self.layers() - 1;
        for l in 0..self.layers() {
            let (inp, out) = acts.split_at_mut(l + 1);
            let (inp, out) = (&inp[l], &mut out[0]);
            let n_in = self.sizes[l];
            for ((o, row), &b) in out
                .iter_mut()
                .zip(self.weights[l].chunks_exact(n_in))
                .zip(&self.biases[l])
            {
                let z = b + dot(row, inp);
                *o = if l == last {
                    z
                } else {
                    self.activation.apply(z)
                };
            }
        }
    }

    /// Per-layer inputs of every sample in `data`, concatenated per layer
    /// (`out[l]` is `[n][sizes[l]]`): the float calibration pass.
    pub fn layer_inputs(&self, data: &Samples) -> Vec<Vec<f32>> {
        let mut out: Vec<Vec<f32>> = self.sizes[..self.layers()]
            .iter()
            .map(|&s| Vec::with_capacity(s * data.len()))
            .collect();
        let mut acts: Vec<Vec<f32>> = self.sizes.iter().map(|&s| vec![0.0; s]).collect();
        for i in 0..data.len() {
            self.forward_into(data.sample(i), &mut acts);
            for (o, a) in out.iter_mut().zip(&acts) {
                o.extend_from_slice(a);
            }
        }
        out
    }
}

/// Training hyper-parameters (a view of the task configuration).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f32,
    pub activation: Activation,
}

/// Adam moment estimates for one tensor.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn new(n: usize) -> Moments {
        Moments {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// One Adam step on `p` with gradient `g`; `c1`, `c2` are the bias
    /// corrections 1 − β^t.
    fn step(&mut self, p: &mut [f32], g: &[f32], lr: f32, c1: f32, c2: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-8;
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
        }
    }
}

/// Train a fresh network of `sizes` on `data`.
pub(crate) fn train<R: Rng + ?Sized>(
    sizes: &[usize],
    data: &Samples,
    cfg: &TrainConfig,
    rng: &mut R,
) -> Net {
    let net = Net::init(sizes, cfg.activation, rng);
    fit(net, data, cfg, rng, None)
}

/// Fake quantization of one layer's float weights: `(layer, weights) → weights`.
pub(crate) type FakeQuant<'a> = &'a (dyn Fn(usize, &[f32]) -> Vec<f32> + Sync);

/// Train `net` further on `data`. With `fake_quant` this is
/// quantization-aware training with the straight-through estimator: every
/// step runs forward and backward through `fake_quant(l, w_l)` of the
/// current float weights (recomputed each step, so scales track the
/// weights) and applies the gradient to the float weights, treating the
/// rounding as the identity.
pub(crate) fn fit<R: Rng + ?Sized>(
    mut net: Net,
    data: &Samples,
    cfg: &TrainConfig,
    rng: &mut R,
    fake_quant: Option<FakeQuant>,
) -> Net {
    let sizes = net.sizes.clone();
    let sizes = &sizes[..];
    let mut qw: Vec<Vec<f32>> = vec![Vec::new(); net.layers()];
    let n_layers = net.layers();
    // The weights the forward and backward passes use: the fake-quantized
    // copy under QAT, else the float weights themselves.
    let qat = fake_quant.is_some();
    let bs = cfg.batch_size.min(data.len()).max(1);
    // acts[l]: batch × sizes[l]; deltas[l]: gradient w.r.t. layer l's output.
    let mut acts: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s * bs]).collect();
    let mut deltas: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s * bs]).collect();
    let mut gw: Vec<Vec<f32>> = net.weights.iter().map(|w| vec![0.0; w.len()]).collect();
    let mut gb: Vec<Vec<f32>> = net.biases.iter().map(|b| vec![0.0; b.len()]).collect();
    let mut mw: Vec<Moments> = net.weights.iter().map(|w| Moments::new(w.len())).collect();
    let mut mb: Vec<Moments> = net.biases.iter().map(|b| Moments::new(b.len())).collect();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let steps_per_epoch = data.len().div_ceil(bs);
    let total_steps = (cfg.epochs * steps_per_epoch).max(1);
    let mut t = 0usize;
    let classes = sizes[n_layers];
    for _ in 0..cfg.epochs {
        for i in (1..order.len()).rev() {
            let k = rng.random_range(0..=i);
            order.swap(i, k);
        }
        for batch in order.chunks(bs) {
            let b = batch.len();
            if let Some(fq) = fake_quant {
                for (l, (q, w)) in qw.iter_mut().zip(&net.weights).enumerate() {
                    *q = fq(l, w);
                }
            }
            // Forward, one sample at a time into the batch buffers.
            for (slot, &idx) in batch.iter().enumerate() {
                let x = data.sample(idx);
                acts[0][slot * sizes[0]..(slot + 1) * sizes[0]].copy_from_slice(x);
                for l in 0..n_layers {
                    let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                    let (lo, hi) = acts.split_at_mut(l + 1);
                    let inp = &lo[l][slot * n_in..(slot + 1) * n_in];
                    let out = &mut hi[0][slot * n_out..(slot + 1) * n_out];
                    for ((o, row), &bias) in out
                        .iter_mut()
                        .zip((if qat { &qw[l] } else { &net.weights[l] }).chunks_exact(n_in))
                        .zip(&net.biases[l])
                    {
                        let z = bias + dot(row, inp);
                        *o = if l + 1 == n_layers {
                            z
                        } else {
                            cfg.activation.apply(z)
                        };
                    }
                }
                // Softmax cross-entropy gradient, averaged over the batch.
                let logits = &acts[n_layers][slot * classes..(slot + 1) * classes];
                let d = &mut deltas[n_layers][slot * classes..(slot + 1) * classes];
                let max = logits.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
                let mut sum = 0.0f32;
                for (di, &z) in d.iter_mut().zip(logits) {
                    *di = (z - max).exp();
                    sum += *di;
                }
                let label = usize::from(data.labels[idx]);
                for (c, di) in d.iter_mut().enumerate() {
                    let p = *di / sum;
                    *di = (p - if c == label { 1.0 } else { 0.0 }) / b as f32;
                }
            }
            // Backward.
            for l in (0..n_layers).rev() {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                gw[l].fill(0.0);
                gb[l].fill(0.0);
                let (dlo, dhi) = deltas.split_at_mut(l + 1);
                let d_out = &dhi[0];
                let d_in = &mut dlo[l];
                for slot in 0..b {
                    let x = &acts[l][slot * n_in..(slot + 1) * n_in];
                    let dy = &d_out[slot * n_out..(slot + 1) * n_out];
                    for ((g_row, gbias), &dyo) in
                        gw[l].chunks_exact_mut(n_in).zip(gb[l].iter_mut()).zip(dy)
                    {
                        if dyo != 0.0 {
                            axpy(dyo, x, g_row);
                            *gbias += dyo;
                        }
                    }
                    if l > 0 {
                        let dx = &mut d_in[slot * n_in..(slot + 1) * n_in];
                        dx.fill(0.0);
                        for (row, &dyo) in (if qat { &qw[l] } else { &net.weights[l] })
                            .chunks_exact(n_in)
                            .zip(dy)
                        {
                            if dyo != 0.0 {
                                axpy(dyo, row, dx);
                            }
                        }
                        for (dxi, &a) in dx.iter_mut().zip(x) {
                            *dxi *= cfg.activation.grad_from_output(a);
                        }
                    }
                }
            }
            // Adam update with a linearly decaying step size.
            t += 1;
            let progress = (t - 1) as f32 / total_steps as f32;
            let lr = cfg.learning_rate * (1.0 - 0.9 * progress);
            let c1 = 1.0 - 0.9f32.powi(t as i32);
            let c2 = 1.0 - 0.999f32.powi(t as i32);
            for l in 0..n_layers {
                mw[l].step(&mut net.weights[l], &gw[l], lr, c1, c2);
                mb[l].step(&mut net.biases[l], &gb[l], lr, c1, c2);
            }
        }
    }
    net
}

/// Float accuracy of `net` on `data` (fraction correct, first maximum wins).
pub(crate) fn float_accuracy(net: &Net, data: &Samples) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut acts: Vec<Vec<f32>> = net.sizes.iter().map(|&s| vec![0.0; s]).collect();
    let mut correct = 0usize;
    for i in 0..data.len() {
        net.forward_into(data.sample(i), &mut acts);
        if argmax(&acts[net.layers()]) == usize::from(data.labels[i]) {
            correct += 1;
        }
    }
    correct as f64 / data.len() as f64
}

/// Index of the first maximum (NaN never wins).
#[inline]
pub(crate) fn argmax(xs: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}
