//! The mixed-precision study's model: building a classifier task (render the
//! splits + train the MLP + calibration pass) and one held-out accuracy
//! evaluation at given per-layer precisions (the genome-evaluation hot path).
//!
//! Also: importing a `.safetensors` layer and measuring its error.
//!
//! Run briefly: `cargo bench --bench nn -- --warm-up-time 1 --measurement-time 3`.
//! Before timing, the accuracies of a few uniform precisions are printed so
//! the figures can be read next to what they buy.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::nn::classifier::{
    ActQuant, ClassifierTask, EvalScratch, LayerQuant, TaskConfig, WeightQuant,
};
use evoquant::quant::{Calibration, QuantSpec, Scheme};
use rayon::prelude::*;
use std::hint::black_box;

fn int(bits: u8, act_bits: u8, calibration: Calibration) -> LayerQuant {
    LayerQuant {
        weights: WeightQuant::Int(QuantSpec::per_channel(bits)),
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

    // A population evaluated in parallel, as the genetic search does it: 32
    // distinct mixed-precision genomes per iteration over all cores, with
    // the caches warm (the steady state of a search).
    let genomes: Vec<Vec<LayerQuant>> = (0..32u8)
        .map(|i| {
            (0..n as u8)
                .map(|l| {
                    let w = [2u8, 4, 6, 8][usize::from((i + l) % 4)];
                    let a = [4u8, 8, 16][usize::from((i / 4 + l) % 3)];
                    let c = [
                        Calibration::MinMax,
                        Calibration::Percentile,
                        Calibration::Mse,
                        Calibration::Entropy,
                    ][usize::from((i / 12 + l) % 4)];
                    int(w, a, c)
                })
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("nn_population");
    g.throughput(Throughput::Elements(genomes.len() as u64));
    g.bench_function("accuracy_x32_par_iter", |b| {
        b.iter(|| {
            let acc: Vec<f64> = genomes.par_iter().map(|q| task.accuracy(q)).collect();
            black_box(acc)
        })
    });
    g.finish();
}

/// Importing a checkpoint: one LLaMA-7B-sized projection (4096 × 4096, BF16,
/// 32 MiB) read and measured at the six default bit widths on its 256
/// sampled rows (the default cap of 2^20 values), and the header alone.
fn bench_safetensors(c: &mut Criterion) {
    use evoquant::models::safetensors::{read, read_header};
    use safetensors::Dtype;
    use safetensors::tensor::TensorView;
    let (rows, cols) = (4096usize, 4096usize);
    let bytes: Vec<u8> = (0..rows * cols)
        .flat_map(|i| {
            let x = ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / (1u32 << 24) as f32;
            half::bf16::from_f32((x - 0.5) * 0.05).to_le_bytes()
        })
        .collect();
    let view = TensorView::new(Dtype::BF16, vec![rows, cols], &bytes).unwrap();
    let file = safetensors::serialize([("layers.0.mlp.up_proj.weight", view)], None).unwrap();
    let path =
        std::env::temp_dir().join(format!("evoquant-bench-{}.safetensors", std::process::id()));
    std::fs::write(&path, file).unwrap();
    let mut g = c.benchmark_group("safetensors");
    g.sample_size(10);
    g.bench_function("read_measure_4096x4096_bf16", |b| {
        b.iter(|| black_box(read(&path).unwrap().layers[0].quant_error[0]))
    });
    g.bench_function("read_header_4096x4096_bf16", |b| {
        b.iter(|| black_box(read_header(&path).unwrap().layers.len()))
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench, bench_safetensors);
criterion_main!(benches);
