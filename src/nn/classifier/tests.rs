//! Task-level tests: the properties a study relies on. One default task is
//! built once and shared (building is the slow part).

use super::*;
use crate::quant::{Calibration, QuantSpec, Scheme};
use std::sync::OnceLock;

fn task() -> &'static ClassifierTask {
    static TASK: OnceLock<ClassifierTask> = OnceLock::new();
    TASK.get_or_init(|| ClassifierTask::build(&TaskConfig::default(), 7).unwrap())
}

fn int_weights(bits: u8) -> WeightQuant {
    WeightQuant::Int(QuantSpec::per_channel(bits))
}

fn int_acts(bits: u8, calibration: Calibration) -> ActQuant {
    ActQuant::Int {
        bits,
        scheme: Scheme::Asymmetric,
        calibration,
        percentile: 99.9,
    }
}

fn uniform(q: LayerQuant) -> Vec<LayerQuant> {
    vec![q; task().num_layers()]
}

#[test]
fn shapes_follow_the_config() {
    let t = task();
    let cfg = TaskConfig::default();
    let sizes = cfg.layer_sizes();
    assert_eq!(t.num_layers(), sizes.len() - 1);
    for (l, s) in t.layer_shapes().iter().enumerate() {
        assert_eq!(*s, [sizes[l + 1], sizes[l]]);
        assert_eq!(t.layer_weights(l).len(), s[0] * s[1]);
        assert_eq!(t.layer_biases(l).len(), s[0]);
        assert_eq!(
            t.calibration_inputs(l).len(),
            cfg.calibration_size * sizes[l]
        );
    }
    assert_eq!(t.test_size(), cfg.test_size);
}

#[test]
fn fp32_reaches_ninety_percent_and_matches_the_unquantized_pass() {
    let t = task();
    assert!(t.fp32_accuracy() >= 0.90, "fp32 {}", t.fp32_accuracy());
    assert_eq!(t.accuracy(&uniform(LayerQuant::FP32)), t.fp32_accuracy());
}

#[test]
fn same_seed_same_bits_other_seed_other_network() {
    let cfg = TaskConfig {
        train_size: 600,
        test_size: 300,
        epochs: 3,
        ..TaskConfig::default()
    };
    let a = ClassifierTask::build(&cfg, 11).unwrap();
    let b = ClassifierTask::build(&cfg, 11).unwrap();
    let c = ClassifierTask::build(&cfg, 12).unwrap();
    assert_eq!(a.layer_weights(0), b.layer_weights(0));
    let q = vec![
        LayerQuant {
            weights: int_weights(4),
            activations: int_acts(8, Calibration::Entropy),
        };
        a.num_layers()
    ];
    assert_eq!(a.accuracy(&q).to_bits(), b.accuracy(&q).to_bits());
    assert_eq!(a.fp32_accuracy().to_bits(), b.fp32_accuracy().to_bits());
    assert_ne!(a.layer_weights(0), c.layer_weights(0));
}

#[test]
fn fp16_is_close_to_fp32() {
    let t = task();
    let acc = t.accuracy(&uniform(LayerQuant::FP16));
    assert!((acc - t.fp32_accuracy()).abs() <= 0.005, "fp16 {acc}");
}

#[test]
fn int8_weights_and_activations_stay_within_two_points() {
    let t = task();
    for method in [
        Calibration::MinMax,
        Calibration::Percentile,
        Calibration::Mse,
        Calibration::Entropy,
    ] {
        let acc = t.accuracy(&uniform(LayerQuant {
            weights: int_weights(8),
            activations: int_acts(8, method),
        }));
        assert!(
            acc >= t.fp32_accuracy() - 0.02,
            "W8A8 {method:?}: {acc} vs fp32 {}",
            t.fp32_accuracy()
        );
    }
}

#[test]
fn two_bit_weights_clearly_hurt() {
    let t = task();
    let w8 = t.accuracy(&uniform(LayerQuant {
        weights: int_weights(8),
        activations: ActQuant::Fp32,
    }));
    let w2 = t.accuracy(&uniform(LayerQuant {
        weights: int_weights(2),
        activations: ActQuant::Fp32,
    }));
    assert!(w2 < w8 - 0.05, "W2 {w2} vs W8 {w8}");
}

#[test]
fn scratch_reuse_and_thread_local_paths_agree() {
    let t = task();
    let q = uniform(LayerQuant {
        weights: int_weights(3),
        activations: int_acts(4, Calibration::Percentile),
    });
    let mut s = EvalScratch::default();
    let a = t.accuracy_with(&q, &mut s);
    let _ = t.accuracy_with(&uniform(LayerQuant::FP16), &mut s);
    assert_eq!(t.accuracy_with(&q, &mut s), a);
    assert_eq!(t.accuracy(&q), a);
    // In parallel, as a rayon population evaluates it.
    use rayon::prelude::*;
    let all: Vec<f64> = (0..8).into_par_iter().map(|_| t.accuracy(&q)).collect();
    assert!(all.iter().all(|&x| x == a));
}

#[test]
fn invalid_requests_are_errors_not_panics() {
    let t = task();
    assert!(t.try_accuracy(&[LayerQuant::FP32]).is_err());
    let mut q = uniform(LayerQuant::FP32);
    q[1].activations = ActQuant::Int {
        bits: 1,
        scheme: Scheme::Symmetric,
        calibration: Calibration::MinMax,
        percentile: 99.0,
    };
    assert!(t.try_accuracy(&q).is_err());
    q[1].activations = int_acts(8, Calibration::Percentile);
    q[0].weights = int_weights(0);
    assert!(t.try_accuracy(&q).is_err());
    let bad = TaskConfig {
        classes: 11,
        ..TaskConfig::default()
    };
    assert!(ClassifierTask::build(&bad, 1).is_err());
    let bad = TaskConfig {
        stroke_min_px: 2.0,
        stroke_max_px: 1.0,
        ..TaskConfig::default()
    };
    assert!(ClassifierTask::build(&bad, 1).is_err());
}

#[test]
fn layer_quant_round_trips_through_json() {
    let q = LayerQuant {
        weights: int_weights(4),
        activations: int_acts(8, Calibration::Mse),
    };
    let s = serde_json::to_string(&q).unwrap();
    assert_eq!(serde_json::from_str::<LayerQuant>(&s).unwrap(), q);
    let cfg = TaskConfig::default();
    let s = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<TaskConfig>(&s).unwrap(), cfg);
}

#[test]
fn task_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClassifierTask>();
    assert_send_sync::<EvalScratch>();
}

#[test]
fn weight_error_falls_with_bits_and_rejects_bad_layers() {
    let t = task();
    for l in 0..t.num_layers() {
        let e: Vec<f64> = [2u8, 3, 4, 8]
            .iter()
            .map(|&b| t.weight_error(l, &int_weights(b)).unwrap())
            .collect();
        assert!(e.windows(2).all(|w| w[1] < w[0]), "layer {l}: {e:?}");
        assert_eq!(t.weight_error(l, &WeightQuant::Fp32).unwrap(), 0.0);
        let h = t.weight_error(l, &WeightQuant::Fp16).unwrap();
        assert!(h > 0.0 && h < e[3], "layer {l}: fp16 {h} vs int8 {}", e[3]);
    }
    assert!(t.weight_error(t.num_layers(), &WeightQuant::Fp16).is_err());
    assert!(t.weight_error(0, &int_weights(1)).is_err());
}
