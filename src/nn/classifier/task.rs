//! A trained classifier with its splits: the object a mixed-precision search
//! asks "how accurate is the network at these per-layer precisions?".
//!
//! Building one renders the three splits, trains the MLP and records the
//! float activations of the calibration split; all of it is a function of
//! the config and the seed. Afterwards the task is read-only (`&self`,
//! `Sync`), so a rayon population can query it in parallel; the only shared
//! mutable state is two memos of pure functions: calibrated activation
//! ranges (`calib.rs`) and quantized weights (`weight_cache.rs`).

use super::calib::RangeCache;
use super::config::TaskConfig;
use super::forward::{EvalScratch, correct_count, quantized_weights};
use super::glyphs::{Samples, render_split};
use super::train::{Activation, Net, TrainConfig, fit, float_accuracy, train};
use super::weight_cache::WeightCache;
use crate::nn::NnError;
use crate::quant::{ActQuant, LayerQuant, WeightQuant};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::cell::RefCell;

/// A trained MLP plus its calibration and held-out splits.
#[derive(Debug)]
pub struct ClassifierTask {
    config: TaskConfig,
    net: Net,
    /// Kept so the same data can train other architectures and QAT.
    train: Samples,
    calib: Samples,
    test: Samples,
    ranges: RangeCache,
    weights: WeightCache,
    fp32_accuracy: f64,
    train_accuracy: f64,
}

thread_local! {
    static SCRATCH: RefCell<EvalScratch> = RefCell::new(EvalScratch::default());
}

impl ClassifierTask {
    /// Render the splits, train, and record calibration activations.
    ///
    /// Streams: the seed's generator is split with `jump()` into independent
    /// streams for the train, calibration and test data and for training, so
    /// changing e.g. `test_size` does not change the training data.
    pub fn build(cfg: &TaskConfig, seed: u64) -> Result<ClassifierTask, NnError> {
        Self::build_with(cfg, seed, None)
    }

    /// [`build`](Self::build) with the training stream seeded by
    /// `train_seed` when given (the data still come from `seed`): what
    /// co-evolution uses so an architecture's network depends on the trial
    /// and the architecture only. Equal to
    /// [`retrain`](Self::retrain)`(hidden, activation, train_seed)` on any
    /// task built from the same `seed`.
    pub fn build_with(
        cfg: &TaskConfig,
        seed: u64,
        train_seed: Option<u64>,
    ) -> Result<ClassifierTask, NnError> {
        cfg.validate()?;
        let mut streams = Vec::with_capacity(4);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for _ in 0..4 {
            streams.push(rng.clone());
            rng.jump();
        }
        let jitter = cfg.jitter();
        let train_split = render_split(cfg.train_size, cfg.classes, &jitter, &mut streams[0]);
        let calib = render_split(cfg.calibration_size, cfg.classes, &jitter, &mut streams[1]);
        let test = render_split(cfg.test_size, cfg.classes, &jitter, &mut streams[2]);
        if let Some(t) = train_seed {
            streams[3] = Xoshiro256PlusPlus::seed_from_u64(t);
        }
        let tc = TrainConfig {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            learning_rate: cfg.learning_rate as f32,
            activation: cfg.activation,
        };
        let net = train(&cfg.layer_sizes(), &train_split, &tc, &mut streams[3]);
        Ok(Self::assemble(cfg.clone(), net, train_split, calib, test))
    }

    fn assemble(
        config: TaskConfig,
        net: Net,
        train_split: Samples,
        calib: Samples,
        test: Samples,
    ) -> ClassifierTask {
        let train_accuracy = float_accuracy(&net, &train_split);
        let fp32_accuracy = float_accuracy(&net, &test);
        let ranges = RangeCache::new(net.layer_inputs(&calib));
        ClassifierTask {
            config,
            net,
            train: train_split,
            calib,
            test,
            ranges,
            weights: WeightCache::default(),
            fp32_accuracy,
            train_accuracy,
        }
    }

    fn train_config(&self, activation: Activation, learning_rate: f64) -> TrainConfig {
        TrainConfig {
            epochs: self.config.epochs,
            batch_size: self.config.batch_size,
            learning_rate: learning_rate as f32,
            activation,
        }
    }

    /// A network of another shape trained on this task's data from
    /// `train_seed` (the config's epochs, batch size and step size).
    pub fn retrain(
        &self,
        hidden: &[usize],
        activation: Activation,
        train_seed: u64,
    ) -> Result<ClassifierTask, NnError> {
        let config = TaskConfig {
            hidden: hidden.to_vec(),
            activation,
            ..self.config.clone()
        };
        config.validate()?;
        let tc = self.train_config(activation, self.config.learning_rate);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(train_seed);
        let net = train(&config.layer_sizes(), &self.train, &tc, &mut rng);
        Ok(Self::assemble(
            config,
            net,
            self.train.clone(),
            self.calib.clone(),
            self.test.clone(),
        ))
    }

    /// Quantization-aware fine-tuning: `epochs` more epochs of this network
    /// at a tenth of the training step size (decaying linearly, as in
    /// training) with `fake_quant(layer, weights)` in the forward pass and
    /// the straight-through estimator in the backward pass; activation
    /// ranges are recalibrated on the fine-tuned float network.
    pub fn fine_tuned(
        &self,
        epochs: usize,
        seed: u64,
        fake_quant: &(dyn Fn(usize, &[f32]) -> Vec<f32> + Sync),
    ) -> ClassifierTask {
        let mut tc = self.train_config(self.net.activation, self.config.learning_rate * 0.1);
        tc.epochs = epochs;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let net = fit(
            self.net.clone(),
            &self.train,
            &tc,
            &mut rng,
            Some(fake_quant),
        );
        Self::assemble(
            self.config.clone(),
            net,
            self.train.clone(),
            self.calib.clone(),
            self.test.clone(),
        )
    }

    pub fn config(&self) -> &TaskConfig {
        &self.config
    }

    /// Number of linear layers.
    pub fn num_layers(&self) -> usize {
        self.net.layers()
    }

    /// `[outputs, inputs]` of every linear layer, input side first.
    pub fn layer_shapes(&self) -> Vec<[usize; 2]> {
        self.net.sizes.windows(2).map(|w| [w[1], w[0]]).collect()
    }

    /// Row-major `[outputs][inputs]` weights of `layer`.
    ///
    /// # Panics
    /// If `layer >= num_layers()`.
    pub fn layer_weights(&self, layer: usize) -> &[f32] {
        &self.net.weights[layer]
    }

    /// `[outputs]` biases of `layer` (kept in f32 by every evaluation).
    pub fn layer_biases(&self, layer: usize) -> &[f32] {
        &self.net.biases[layer]
    }

    /// Float activations of `layer`'s input over the calibration split,
    /// `[calibration_size][inputs]`: what activation ranges are fitted to.
    pub fn calibration_inputs(&self, layer: usize) -> &[f32] {
        self.ranges.inputs(layer)
    }

    /// Float accuracy on the held-out test split.
    pub fn fp32_accuracy(&self) -> f64 {
        self.fp32_accuracy
    }

    /// Float accuracy on the training split (to show over-fitting).
    pub fn train_accuracy(&self) -> f64 {
        self.train_accuracy
    }

    /// Held-out samples (the denominator of every accuracy).
    pub fn test_size(&self) -> usize {
        self.test.len()
    }

    /// Check a per-layer request: one entry per layer, each valid.
    pub fn validate_layers(&self, layers: &[LayerQuant]) -> Result<(), NnError> {
        if layers.len() != self.num_layers() {
            return Err(NnError::InvalidTask(format!(
                "expected one LayerQuant per layer ({}), got {}",
                self.num_layers(),
                layers.len()
            )));
        }
        for (l, q) in layers.iter().enumerate() {
            q.validate(l)?;
        }
        Ok(())
    }

    /// Held-out accuracy with `layers[l]` applied to layer l, using this
    /// thread's scratch buffers.
    ///
    /// # Panics
    /// If `layers` fails [`validate_layers`](Self::validate_layers): callers
    /// validate genomes once, not on every evaluation. Use
    /// [`try_accuracy`](Self::try_accuracy) for unchecked input.
    pub fn accuracy(&self, layers: &[LayerQuant]) -> f64 {
        match self.try_accuracy(layers) {
            Ok(a) => a,
            Err(e) => panic!("ClassifierTask::accuracy: {e}"),
        }
    }

    /// [`accuracy`](Self::accuracy) that reports an invalid request.
    pub fn try_accuracy(&self, layers: &[LayerQuant]) -> Result<f64, NnError> {
        self.validate_layers(layers)?;
        Ok(SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.eval(layers, &mut s),
            // Re-entered on this thread (not done by this module): use a
            // fresh buffer rather than fail.
            Err(_) => self.eval(layers, &mut EvalScratch::default()),
        }))
    }

    /// [`accuracy`](Self::accuracy) with caller-owned scratch buffers.
    pub fn accuracy_with(&self, layers: &[LayerQuant], scratch: &mut EvalScratch) -> f64 {
        if let Err(e) = self.validate_layers(layers) {
            panic!("ClassifierTask::accuracy_with: {e}");
        }
        self.eval(layers, scratch)
    }

    /// Relative weight error Σ(w − q(w))² / Σ w² of `layer` under `q`
    /// (0 for an exact reconstruction): a data-free sensitivity signal to set
    /// beside the measured accuracy. Uses the same cached quantized weights
    /// as [`accuracy`](Self::accuracy).
    pub fn weight_error(&self, layer: usize, q: &WeightQuant) -> Result<f64, NnError> {
        if layer >= self.num_layers() {
            return Err(NnError::InvalidTask(format!(
                "layer {layer} does not exist (the network has {})",
                self.num_layers()
            )));
        }
        LayerQuant {
            weights: *q,
            activations: ActQuant::Fp32,
        }
        .validate(layer)?;
        let w = &self.net.weights[layer];
        let qw = self
            .weights
            .get_or_compute(layer, q, || quantized_weights(&self.net, layer, q));
        let (mut se, mut ss) = (0f64, 0f64);
        for (&a, &b) in w.iter().zip(qw.iter()) {
            se += f64::from(a - b).powi(2);
            ss += f64::from(a).powi(2);
        }
        Ok(if se == 0.0 { 0.0 } else { se / ss })
    }

    fn eval(&self, layers: &[LayerQuant], scratch: &mut EvalScratch) -> f64 {
        let correct = correct_count(
            &self.net,
            &self.ranges,
            &self.weights,
            &self.test,
            layers,
            &[],
            scratch,
        );
        correct as f64 / self.test.len() as f64
    }
}
