//! Everything that defines a classifier task except the seed.
//!
//! Defaults are tuned so a float MLP reaches at least 90% held-out accuracy
//! while 2-bit weights lose clearly more than 8-bit ones (the unit tests in
//! `tests.rs` check both; over seeds 0–11 FP32 held-out accuracy ranged
//! 94–96%, per-channel W4A8 lost 0–2.4 points, W3 4–19, W2 40–77), and so
//! building a task takes well under a second in release.

use super::glyphs::{Jitter, MAX_CLASSES};
use super::train::Activation;
use crate::nn::NnError;
use serde::{Deserialize, Serialize};

/// The dataset, the network and its training schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Number of glyph classes, 2..=10 (digit-like glyphs 0, 1, …).
    pub classes: usize,
    /// Side of the square image in pixels, 6..=64; the input has size² values.
    pub image_size: usize,
    /// Hidden layer widths; the network has `hidden.len() + 1` linear layers.
    pub hidden: Vec<usize>,
    /// Hidden-layer nonlinearity.
    pub activation: Activation,
    /// Samples used for training.
    pub train_size: usize,
    /// Samples whose float activations calibrate activation ranges.
    pub calibration_size: usize,
    /// Held-out samples on which every accuracy is measured.
    pub test_size: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Adam step size at the start (decays linearly to 10%).
    pub learning_rate: f64,
    /// Minibatch size.
    pub batch_size: usize,
    /// Rotation drawn uniformly from ±this many degrees.
    pub max_rotation_deg: f64,
    /// Per-axis scale drawn uniformly from 1 ± this.
    pub scale_jitter: f64,
    /// Per-axis shift drawn uniformly from ±this many pixels.
    pub max_shift_px: f64,
    /// Std. dev. of each stroke vertex's displacement (glyph spans 1.0).
    pub vertex_jitter: f64,
    /// Stroke width range in pixels.
    pub stroke_min_px: f64,
    pub stroke_max_px: f64,
    /// Std. dev. of additive Gaussian pixel noise (ink = 1.0).
    pub pixel_noise: f64,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            classes: 10,
            image_size: 12,
            hidden: vec![40, 20],
            activation: Activation::Relu,
            train_size: 4000,
            calibration_size: 500,
            test_size: 1000,
            epochs: 10,
            learning_rate: 0.003,
            batch_size: 32,
            max_rotation_deg: 14.0,
            scale_jitter: 0.12,
            max_shift_px: 1.0,
            vertex_jitter: 0.05,
            stroke_min_px: 0.9,
            stroke_max_px: 1.8,
            pixel_noise: 0.22,
        }
    }
}

fn bad(msg: String) -> NnError {
    NnError::InvalidTask(msg)
}

impl TaskConfig {
    /// Reject values that cannot build a task (each message names the field).
    pub fn validate(&self) -> Result<(), NnError> {
        if !(2..=MAX_CLASSES).contains(&self.classes) {
            return Err(bad(format!(
                "classes must be in 2..={MAX_CLASSES}, got {}",
                self.classes
            )));
        }
        if !(6..=64).contains(&self.image_size) {
            return Err(bad(format!(
                "image_size must be in 6..=64, got {}",
                self.image_size
            )));
        }
        if let Some(w) = self.hidden.iter().find(|&&w| !(1..=4096).contains(&w)) {
            return Err(bad(format!("hidden widths must be in 1..=4096, got {w}")));
        }
        for (name, n) in [
            ("train_size", self.train_size),
            ("calibration_size", self.calibration_size),
            ("test_size", self.test_size),
        ] {
            if !(1..=1_000_000).contains(&n) {
                return Err(bad(format!("{name} must be in 1..=1000000, got {n}")));
            }
        }
        if !(1..=10_000).contains(&self.epochs) {
            return Err(bad(format!(
                "epochs must be in 1..=10000, got {}",
                self.epochs
            )));
        }
        if self.batch_size == 0 {
            return Err(bad("batch_size must be at least 1".into()));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(bad(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            )));
        }
        for (name, v, max) in [
            ("max_rotation_deg", self.max_rotation_deg, 180.0),
            ("scale_jitter", self.scale_jitter, 0.9),
            ("max_shift_px", self.max_shift_px, self.image_size as f64),
            ("vertex_jitter", self.vertex_jitter, 1.0),
            ("pixel_noise", self.pixel_noise, 10.0),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(bad(format!("{name} must be in [0, {max}], got {v}")));
            }
        }
        if !(self.stroke_min_px.is_finite()
            && self.stroke_max_px.is_finite()
            && self.stroke_min_px > 0.0
            && self.stroke_min_px <= self.stroke_max_px
            && self.stroke_max_px <= self.image_size as f64)
        {
            return Err(bad(format!(
                "stroke widths need 0 < stroke_min_px ≤ stroke_max_px ≤ image_size, got {} and {}",
                self.stroke_min_px, self.stroke_max_px
            )));
        }
        Ok(())
    }

    /// Layer sizes `[inputs, hidden…, classes]`.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut s = vec![self.image_size * self.image_size];
        s.extend_from_slice(&self.hidden);
        s.push(self.classes);
        s
    }

    pub(crate) fn jitter(&self) -> Jitter {
        Jitter {
            size: self.image_size,
            max_rotation_deg: self.max_rotation_deg as f32,
            scale_jitter: self.scale_jitter as f32,
            max_shift_px: self.max_shift_px as f32,
            vertex_jitter: self.vertex_jitter as f32,
            stroke_min_px: self.stroke_min_px as f32,
            stroke_max_px: self.stroke_max_px as f32,
            pixel_noise: self.pixel_noise as f32,
        }
    }
}
