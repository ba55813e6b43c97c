//! Speed of the bit-allocation study's hot paths: the exact optimum for the
//! 131-layer TRAIN inventory over all 7 precisions, the whole frontier, and
//! evaluating one heuristic on one dataset.

use criterion::{Criterion, criterion_group, criterion_main};
use evoquant::models::{Precision, Split};
use evoquant::studies::bit_allocation::heuristic::{Heuristic, Ladder};
use evoquant::studies::bit_allocation::optimum::{Solver, frontier, frontier_targets, optimum};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let train = Split::Train.builtin();
    c.bench_function("optimum_131_layers_7_precisions", |b| {
        b.iter(|| optimum(black_box(&train), &Precision::ALL, black_box(0.95)))
    });
    let solver = Solver::new(&train, &Precision::ALL);
    c.bench_function("optimum_solve_only_131x7", |b| {
        b.iter(|| solver.solve(black_box(0.95)))
    });
    let targets = frontier_targets(24, 0.95);
    c.bench_function("frontier_25_targets_131x7", |b| {
        b.iter(|| frontier(black_box(&train), &Precision::ALL, &targets))
    });
    let ladder = Ladder::new(&Precision::ALL);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let h = Heuristic::random(&ladder, &mut rng);
    c.bench_function("heuristic_evaluate_131_layers", |b| {
        b.iter(|| black_box(&h).evaluate(black_box(&train), &ladder))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
