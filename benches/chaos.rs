//! Hot loop of the chaos_int4 study: one arena step plus one policy forward
//! pass, one full fitness evaluation (a genome over its training layouts),
//! and one whole default trial on one thread.
//!
//! Run briefly: `cargo bench --bench chaos -- --warm-up-time 1 --measurement-time 3`.
//! Criterion's `Throughput::Elements` turns the step benchmark into
//! environment steps per second on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use evoquant::nn::MlpShape;
use evoquant::studies::chaos_int4::arena::Arena;
use evoquant::studies::chaos_int4::episode::{Driver, actions};
use evoquant::studies::chaos_int4::{ChaosInt4, Params};
use evoquant::studies::{Study, TrialContext, TrialRng};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let p = Params::default();
    let shape = MlpShape::new(&p.layer_sizes()).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let genome = shape.random_params(p.init_sigma as f32, &mut rng);

    // Steps of a random policy: reset on collision so every iteration is a
    // real step in a populated arena (the reset cost is amortised in).
    const STEPS: u64 = 1000;
    let mut g = c.benchmark_group("chaos");
    g.throughput(Throughput::Elements(STEPS));
    g.bench_function("env_step_plus_forward_x1000", |b| {
        let mut arena = Arena::new(p.arena_config());
        let mut scratch = shape.scratch();
        let mut obs = vec![0.0; p.arena_config().observation_len()];
        let mut seed = 0;
        b.iter(|| {
            for _ in 0..STEPS {
                arena.observe(&mut obs);
                let (steer, throttle) = actions(shape.forward(&genome, &obs, &mut scratch));
                if arena.step(steer, throttle) {
                    seed += 1;
                    arena.reset(seed);
                }
            }
            black_box(arena.agent);
        })
    });
    g.finish();

    // One genome's training fitness with default params: `train_episodes`
    // episodes of up to `arena.steps` steps. The genome parks (throttle
    // bias −100), so episodes run to the budget unless an obstacle hits it:
    // close to the worst case, unlike a random genome that crashes early.
    let mut parked = vec![0.0; shape.param_count()];
    *parked.last_mut().unwrap() = -100.0;
    let seeds: Vec<u64> = (0..p.train_episodes as u64).collect();
    let mut driver = Driver::new(&shape, p.arena_config(), p.arena.steps as u32);
    c.bench_function("chaos/fitness_evaluation_default_params", |b| {
        b.iter(|| black_box(driver.mean_fitness(&parked, &seeds)))
    });

    // One whole trial with default parameters on one thread (the runner
    // runs trials in parallel, so this is the per-core cost of a trial).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("chaos_trial");
    g.sample_size(10);
    g.bench_function("default_trial_one_thread", |b| {
        b.iter(|| {
            pool.install(|| {
                let mut rng = TrialRng::seed_from_u64(42);
                black_box(
                    ChaosInt4
                        .run_trial(&p, &mut rng, &TrialContext::detached())
                        .unwrap(),
                )
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
