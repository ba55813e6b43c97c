//! Genome evaluations per second, the mixed-precision study's hot path: one
//! genome of the 226-layer LLaMA-7B-like inventory (sensitivity model + cost
//! model), one of the 54-layer ResNet-50-like inventory, one of the trained
//! glyph MLP (accuracy measured on 1000 held-out samples), and a whole
//! population of 20 through the cache, cold (parallel evaluation).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::hw::builtin;
use evoquant::models::Family;
use evoquant::nn::{ClassifierTask, TaskConfig};
use evoquant::studies::mixed_precision::adapters::MlpModel;
use evoquant::studies::mixed_precision::evaluate::{Cache, Evaluator};
use evoquant::studies::mixed_precision::genome::{GROUP_SIZES, Genome, Granularity, Space};
use evoquant::studies::mixed_precision::model::{InventoryModel, QuantModel};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

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

criterion_group!(benches, bench);
criterion_main!(benches);
