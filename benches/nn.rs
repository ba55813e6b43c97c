//! The mixed-precision study's model: building a classifier task (render the
//! splits + train the MLP + calibration pass) and one held-out accuracy
//! evaluation at given per-layer precisions (the genome-evaluation hot path).
//!
//! Run briefly: `cargo bench --bench nn -- --warm-up-time 1 --measurement-time 3`.
//! Before timing, the accuracies of a few uniform precisions are printed so
//! the figures can be read next to what they buy.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::nn::classifier::{
    ActQuant, ClassifierTask, EvalScratch, LayerQuant, TaskConfig, WeightQuant,
};
use evoquant::quant::{Calibration, Granularity, QuantSpec, ScaleDtype, Scheme};
use std::hint::black_box;

fn int(bits: u8, act_bits: u8, calibration: Calibration) -> LayerQuant {
    LayerQuant {
        weights: WeightQuant::Int(QuantSpec {
            bits,
            scheme: Scheme::Symmetric,
            granularity: Granularity::PerChannel,
            group_size: 32,
            calibration: Calibration::MinMax,
            percentile: 99.9,
            scale_dtype: ScaleDtype::F32,
        }),
        activations: ActQuant::Int {
            bits: act_bits,
            scheme: Scheme::Asymmetric,
            calibration,
            percentile: 99.9,
        },
    }
}

fn bench(c: &mut Criterion) {
    let cfg = TaskConfig::default();
    let task = ClassifierTask::build(&cfg, 1).unwrap();
    let n = task.num_layers();
    eprintln!(
        "default task: layers {:?}, fp32 test accuracy {:.4}, train accuracy {:.4}",
        task.layer_shapes(),
        task.fp32_accuracy(),
        task.train_accuracy()
    );
    for (name, q) in [
        ("FP16", LayerQuant::FP16),
        ("W8A8 minmax", int(8, 8, Calibration::MinMax)),
        ("W8A8 entropy", int(8, 8, Calibration::Entropy)),
        ("W4A8 percentile", int(4, 8, Calibration::Percentile)),
        ("W4A4 mse", int(4, 4, Calibration::Mse)),
        ("W3A8 minmax", int(3, 8, Calibration::MinMax)),
        ("W2A8 minmax", int(2, 8, Calibration::MinMax)),
    ] {
        eprintln!("  {name:<16} {:.4}", task.accuracy(&vec![q; n]));
    }

    let mut g = c.benchmark_group("nn");
    g.sample_size(10);
    g.bench_function("build_default_task", |b| {
        b.iter(|| black_box(ClassifierTask::build(&cfg, 2).unwrap().fp32_accuracy()))
    });
    g.finish();

    let mut g = c.benchmark_group("nn_accuracy");
    g.throughput(Throughput::Elements(1));
    let mut scratch = EvalScratch::default();
    for (name, q) in [
        ("fp32", LayerQuant::FP32),
        ("w8a8_minmax", int(8, 8, Calibration::MinMax)),
        ("w4a8_entropy_cached", int(4, 8, Calibration::Entropy)),
    ] {
        let layers = vec![q; n];
        g.bench_function(name, |b| {
            b.iter(|| black_box(task.accuracy_with(&layers, &mut scratch)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
