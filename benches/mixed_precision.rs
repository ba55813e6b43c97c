//! Genome evaluations per second, the mixed-precision study's hot path: one
//! genome of the 226-layer LLaMA-7B-like inventory (sensitivity model + cost
//! model), one of the 54-layer ResNet-50-like inventory, one of the trained
//! glyph MLP (accuracy measured on 1000 held-out samples), and a whole
//! population of 20 through the cache, cold (parallel evaluation).
//!
//! On the real networks (skipped when models/ is absent), with the settings
//! of experiments/mp_minilm.toml and mp_smollm2.toml (texts, sequence
//! length, one gene per role): one new genome at a time, **cold** (every
//! prepared weight and memoised result forgotten first: quantize every
//! layer, then the forward passes) and **warm** (the layers' weights already
//! prepared by earlier genomes, as in a search past its first generations:
//! the forward passes only). A new genome each iteration, so the session's
//! memo never answers. Run briefly:
//! `cargo bench --bench mixed_precision -- --warm-up-time 2 --measurement-time 10 real_`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use evoquant::hw::builtin;
use evoquant::models::Family;
use evoquant::nn::{ClassifierTask, TaskConfig};
use evoquant::studies::mixed_precision::adapters::MlpModel;
use evoquant::studies::mixed_precision::evaluate::{Cache, Evaluator};
use evoquant::studies::mixed_precision::genome::{GROUP_SIZES, Genome, Granularity, Space};
use evoquant::studies::mixed_precision::model::{InventoryModel, QuantModel};
use evoquant::studies::mixed_precision::params::{
    LayerGroups, ModelKind, Params, TransformerMetric,
};
use evoquant::studies::mixed_precision::transformer::TransformerModel;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::path::Path;

fn space() -> Space {
    Space {
        weight_bits: vec![4, 6, 8],
        act_bits: vec![4, 8, 16],
        granularities: vec![
            Granularity::PerTensor,
            Granularity::PerChannel,
            Granularity::PerGroup,
        ],
        group_sizes: GROUP_SIZES.to_vec(),
        mixed: true,
        ggml: false,
        fp8: false,
        calibrations: evoquant::studies::mixed_precision::genome::CALIBRATIONS.to_vec(),
    }
}

fn genomes(n_layers: usize, count: usize) -> Vec<Genome> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    (0..count)
        .map(|_| space().random_genome(n_layers, &mut rng))
        .collect()
}

fn bench(c: &mut Criterion) {
    let target = builtin("arm_neon").unwrap();
    let weights = [0.4, 0.3, 0.2, 0.1];
    let mut group = c.benchmark_group("genome_evaluation");
    group.throughput(Throughput::Elements(1));

    let llama = InventoryModel::new(Family::Llama7bLike.shaped(42, 1));
    let ev = Evaluator::new(&llama, &target, weights, [0.0; 3]);
    let g = genomes(llama.layers().len(), 1).remove(0);
    group.bench_function("llama7b_inventory_226_layers", |b| {
        b.iter(|| ev.evaluate(black_box(&g)))
    });

    let resnet = InventoryModel::new(Family::Resnet50Like.shaped(42, 1));
    let ev = Evaluator::new(&resnet, &target, weights, [0.0; 3]);
    let g = genomes(resnet.layers().len(), 1).remove(0);
    group.bench_function("resnet50_inventory_54_layers", |b| {
        b.iter(|| ev.evaluate(black_box(&g)))
    });

    let mlp = MlpModel::new(ClassifierTask::build(&TaskConfig::default(), 1).unwrap());
    let ev = Evaluator::new(&mlp, &target, weights, [0.0; 3]);
    let pop = genomes(mlp.layers().len(), 20);
    let mut i = 0;
    group.bench_function("mlp_measured_1000_test_samples", |b| {
        b.iter(|| {
            i = (i + 1) % pop.len();
            ev.evaluate(black_box(&pop[i]))
        })
    });

    group.throughput(Throughput::Elements(20));
    group.bench_function("mlp_population_20_cold_cache_parallel", |b| {
        b.iter(|| Cache::new(true).evaluate_all(&ev, black_box(&pop)))
    });
    group.finish();
}

/// The genome stream of a real-model benchmark: the experiment's space,
/// a fresh random genome per call.
fn stream(p: &Params, n_layers: usize) -> impl FnMut() -> Genome {
    let space = p.space();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    move || space.random_genome(n_layers, &mut rng)
}

fn real(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let models = [
        (
            "minilm",
            "all-MiniLM-L6-v2",
            Params {
                transformer_metric: TransformerMetric::MeanCosine,
                eval_texts: 16,
                calib_texts: 16,
                max_seq_len: 32,
                tokens: 32,
                activation_bits: vec![8, 16],
                ..Params::default()
            },
        ),
        (
            "smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            Params {
                transformer_metric: TransformerMetric::KlFidelity,
                eval_texts: 8,
                calib_texts: 8,
                max_seq_len: 24,
                tokens: 24,
                activation_bits: vec![16],
                ..Params::default()
            },
        ),
    ];
    let target = builtin("cortex_a76_neon").unwrap();
    for (label, file, p) in models {
        let path = root.join(file);
        if !path.exists() {
            eprintln!("skipped: models/{file} absent (run scripts/fetch-models.sh)");
            continue;
        }
        let p = Params {
            model: ModelKind::Transformer,
            layer_groups: LayerGroups::Role,
            min_bits: 4,
            max_bits: 8,
            calibrations: vec!["min_max".into(), "percentile".into()],
            ..p
        };
        let m = TransformerModel::load(&p, &path).expect("load the model");
        let ev = Evaluator::new(&m, &target, [0.4, 0.3, 0.2, 0.1], [0.0; 3]);
        let mut next = stream(&p, m.layers().len());
        let mut g = c.benchmark_group(format!("real_{label}_genome_evaluation"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(1));
        g.bench_function("cold", |b| {
            b.iter_batched(
                || {
                    m.clear_caches();
                    next()
                },
                |genome| ev.evaluate(black_box(&genome)).expect("evaluate"),
                BatchSize::PerIteration,
            )
        });
        // Warm: enough genomes first that the stream's (role, precision)
        // pairs are prepared.
        m.clear_caches();
        for _ in 0..24 {
            ev.evaluate(&next()).expect("evaluate");
        }
        g.bench_function("warm", |b| {
            b.iter_batched(
                &mut next,
                |genome| ev.evaluate(black_box(&genome)).expect("evaluate"),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench, real);
criterion_main!(benches);
