//! Study `chaos_int4`: neuroevolved obstacle-avoidance agents and how much of
//! their fitness survives INT4 (and other) weight quantization.
//!
//! The claim being tested (a "Chaos-Evolve" write-up) is that an evolved
//! agent keeps or even gains fitness when its weights are quantized
//! block-wise to INT4. One seed and one evaluation can say anything; this
//! study evolves an agent per trial, then measures FP32 and quantized fitness
//! on the *same held-out* layouts, so the runner can report retention with
//! confidence intervals over replicate seeds.
//!
//! A trial:
//! 1. draws disjoint training and held-out layout seeds ([`seeds`]);
//! 2. evolves an MLP policy ([`crate::evo::evolve`]) in the arena
//!    ([`arena`]), scoring each genome by its mean episode fitness on the
//!    training layouts — on the fake-quantized network if
//!    `quantization_aware`;
//! 3. re-scores the final population's [`CANDIDATES`] best on
//!    [`SELECTION_EPISODES`] further training-side layouts, takes the best as
//!    champion, and evaluates it on the held-out layouts in FP32 and
//!    quantized forms.
//!
//! Episode fitness (see [`episode`]), with `T` the step budget, `s` steps
//! survived, `c` = 1 on collision, `v` distinct cells of a 10 × 10 grid
//! visited:
//!
//! ```text
//! F = 50 + 200 · v / 100 + 50 · s / T − 50 · c        (always > 0)
//! ```
//!
//! Reported fitness is always the mean of `F` over the held-out episodes.

pub mod arena;
pub mod champion;
pub mod episode;
pub mod geometry;
pub mod names;
pub mod params;
pub mod quantized;
mod report;
pub mod seeds;

use crate::evo::{evolve, rank_descending};
use crate::nn::MlpShape;
use crate::report::plots::Section;
use crate::report::results_dir::ResultsDir;
use crate::studies::{
    CheckContext, ParamIssue, Study, StudyError, Table, TrialContext, TrialOutput, TrialRng,
};
use episode::Driver;
pub use params::Params;
use rayon::prelude::*;
use seeds::LayoutSeeds;

/// Final-population genomes re-scored to pick the champion.
pub const CANDIDATES: usize = 5;
/// Training-side layouts the candidates are re-scored on.
pub const SELECTION_EPISODES: usize = 16;

/// The study object registered in [`crate::studies::registry`].
pub struct ChaosInt4;

/// Mean held-out fitness of one parameter vector; episodes run in parallel
/// and are summed in seed order, so the value is independent of threads.
pub fn heldout_fitness(driver: &Driver, params: &[f32], seeds: &[u64]) -> f64 {
    let per_episode: Vec<f64> = seeds
        .par_iter()
        .map_init(
            || driver.clone(),
            |d, &s| d.episode(params, s).fitness(d.max_steps()),
        )
        .collect();
    per_episode.iter().sum::<f64>() / per_episode.len() as f64
}

impl Study for ChaosInt4 {
    type Params = Params;

    fn kind(&self) -> &'static str {
        "chaos_int4"
    }

    fn about(&self) -> &'static str {
        "Neuroevolved obstacle-avoidance agents: FP32 vs per-tensor and block-wise INT-k fitness retention on held-out arenas"
    }

    fn validate(&self, p: &Params, _ctx: &CheckContext) -> Vec<ParamIssue> {
        params::validate(p)
    }

    fn report(&self, results: &ResultsDir) -> crate::error::Result<Section> {
        report::section(results)
    }
    fn unused_params(&self, p: &Params) -> Vec<&'static str> {
        p.unused()
    }
    fn run_trial(
        &self,
        p: &Params,
        rng: &mut TrialRng,
        ctx: &TrialContext,
    ) -> Result<TrialOutput, StudyError> {
        let shape = MlpShape::new(&p.layer_sizes()).map_err(|e| StudyError::new(e.to_string()))?;
        let steps = u32::try_from(p.arena.steps)
            .map_err(|_| StudyError::new("arena.steps does not fit in 32 bits"))?;
        let driver = Driver::new(&shape, p.arena_config(), steps);

        // Independent streams: layouts, evolution, stress test.
        let seeds = LayoutSeeds::draw(
            rng,
            p.generations,
            p.train_episodes,
            SELECTION_EPISODES,
            p.eval_episodes,
        );
        rng.jump();
        let mut evo_rng = rng.clone();
        rng.jump();
        let mut stress_rng = rng.clone();

        // Quantization-aware evolution scores the fake-quantized network. A
        // spec the quantizer rejects is caught here, before evolving.
        let qat_spec = p
            .quantization_aware
            .then(|| champion::block_spec(p.quant.bits, p.quant.scheme, p.quant.block_size));
        if let Some(spec) = &qat_spec {
            let probe = vec![0.0; shape.param_count()];
            quantized::fake_quantize_weights(&shape, &probe, spec, &mut probe.clone())
                .map_err(|e| StudyError::new(format!("quantization-aware spec: {e}")))?;
        }
        let as_evolved =
            |d: &mut Driver, buf: &mut Vec<f32>, g: &[f32], seeds: &[u64]| match &qat_spec {
                Some(spec) => {
                    // Checked above; the spec and shapes never change.
                    quantized::fake_quantize_weights(&shape, g, spec, buf)
                        .expect("spec validated before evolution");
                    d.mean_fitness(buf, seeds)
                }
                None => d.mean_fitness(g, seeds),
            };
        let heldout_as_evolved = |g: &[f32]| {
            let mut buf = g.to_vec();
            if let Some(spec) = &qat_spec {
                quantized::fake_quantize_weights(&shape, g, spec, &mut buf)
                    .expect("spec validated before evolution");
            }
            heldout_fitness(&driver, &buf, &seeds.eval)
        };

        let ga = p.ga();
        let mut generations = Table::new(
            names::GENERATIONS,
            &[
                names::GENERATION,
                names::TRAIN_BEST_FITNESS,
                names::TRAIN_MEAN_FITNESS,
                names::HELDOUT_BEST_FITNESS,
            ],
        );
        let mut random_policy = f64::NAN;
        let pop = evolve(
            &ga,
            shape.param_count(),
            &mut evo_rng,
            || (driver.clone(), vec![0.0; shape.param_count()]),
            |(d, buf): &mut (Driver, Vec<f32>), generation, g: &[f32]| {
                as_evolved(d, buf, g, &seeds.train[generation])
            },
            |g, pop| {
                if g == 0 {
                    let total: f64 = pop.genomes.iter().map(|x| heldout_as_evolved(x)).sum();
                    random_policy = total / pop.genomes.len() as f64;
                }
                let best = pop.best();
                generations.push(vec![
                    g.into(),
                    pop.fitness[best].into(),
                    pop.mean_fitness().into(),
                    heldout_as_evolved(&pop.genomes[best]).into(),
                ]);
                ctx.progress(&format!("generation {g}/{}", ga.generations));
            },
        );
        // Training fitness on a few layouts is noisy: re-score the final
        // population's best few on more training-side layouts (never the
        // held-out ones) and take the best of those as the champion.
        let candidates = rank_descending(&pop.fitness);
        let candidates = &candidates[..CANDIDATES.min(candidates.len())];
        let mut state = (driver.clone(), vec![0.0; shape.param_count()]);
        let selection: Vec<f64> = candidates
            .iter()
            .map(|&i| as_evolved(&mut state.0, &mut state.1, &pop.genomes[i], &seeds.select))
            .collect();
        let best = candidates[rank_descending(&selection)[0]];
        let mut out = TrialOutput::default();
        out.metric(names::RANDOM_POLICY_FITNESS, random_policy);
        out.metric(
            names::CHAMPION_SELECTION_FITNESS,
            selection[rank_descending(&selection)[0]],
        );
        let doc = champion::evaluate(
            p,
            &shape,
            &driver,
            &pop.genomes[best],
            &seeds.eval,
            &mut stress_rng,
            &mut out,
        )?;
        out.table(generations);
        if p.record_champion {
            out.document("champion", doc);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn small() -> Params {
        let mut p = Params {
            population: 24,
            generations: 12,
            train_episodes: 3,
            eval_episodes: 6,
            ..Params::default()
        };
        p.arena.steps = 200;
        p
    }

    fn run(p: &Params, seed: u64) -> TrialOutput {
        let mut rng = TrialRng::seed_from_u64(seed);
        ChaosInt4
            .run_trial(p, &mut rng, &TrialContext::detached())
            .unwrap()
    }

    fn metric(out: &TrialOutput, name: &str) -> f64 {
        out.get(name).and_then(|v| v.as_f64()).unwrap()
    }

    #[test]
    fn evolved_champion_beats_random_policies_on_heldout_layouts() {
        let out = run(&small(), 3);
        let (fp32, random) = (
            metric(&out, "fp32_fitness"),
            metric(&out, "random_policy_fitness"),
        );
        eprintln!("champion {fp32} vs random {random}");
        assert!(fp32 > random + 20.0, "champion {fp32} vs random {random}");
    }

    #[test]
    fn steady_state_champion_also_beats_random_policies() {
        let mut p = small();
        p.mode = crate::evo::Renewal::SteadyState;
        let out = run(&p, 4);
        let (fp32, random) = (
            metric(&out, "fp32_fitness"),
            metric(&out, "random_policy_fitness"),
        );
        assert!(fp32 > random + 20.0, "champion {fp32} vs random {random}");
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        for (mode, qat) in [
            (crate::evo::Renewal::Generational, false),
            (crate::evo::Renewal::Generational, true),
            (crate::evo::Renewal::SteadyState, false),
        ] {
            let mut p = small();
            p.generations = 3;
            p.mode = mode;
            p.quantization_aware = qat;
            let with = |n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .unwrap()
                    .install(|| run(&p, 8))
            };
            assert_eq!(with(1), with(2), "{mode:?} qat={qat}");
        }
    }

    #[test]
    fn quantization_aware_evolution_scores_the_quantized_network() {
        let mut p = small();
        p.generations = 1;
        p.quant.bits = 1;
        let fp = run(&p, 2);
        p.quantization_aware = true;
        let qat = run(&p, 2);
        // Same seed, same initial population: generation 0 differs only
        // because QAT scores the 1-bit network.
        let gen0 = |o: &TrialOutput| o.tables[0].rows[0].clone();
        assert_ne!(gen0(&fp), gen0(&qat));
    }

    #[test]
    fn champion_document_holds_weights_and_quantized_form() {
        let mut p = small();
        p.generations = 1;
        let out = run(&p, 5);
        let doc = &out.documents[0].value;
        let layers = doc["layers"].as_array().unwrap();
        assert_eq!(layers.len(), p.hidden.len() + 1);
        let l0 = &layers[0];
        let n = p.layer_sizes()[0] * p.layer_sizes()[1];
        assert_eq!(l0["weights"].as_array().unwrap().len(), n);
        assert_eq!(l0["block"]["codes"].as_array().unwrap().len(), n);
        assert_eq!(
            l0["block"]["scales"].as_array().unwrap().len(),
            n.div_ceil(p.quant.block_size)
        );
        assert_eq!(l0["per_tensor"]["scales"].as_array().unwrap().len(), 1);
        let bytes: i64 = layers
            .iter()
            .map(|l| l["block"]["bytes"].as_i64().unwrap())
            .sum();
        assert_eq!(
            Some(bytes as f64),
            out.get("block_bytes").and_then(|v| v.as_f64())
        );
    }

    #[test]
    fn records_have_the_documented_shape() {
        let mut p = small();
        p.generations = 2;
        p.quant.eval_bits = vec![3];
        let out = run(&p, 1);
        for name in [
            "fp32_fitness",
            "per_tensor_retention",
            "block_retention",
            "block_beats_fp32",
            "block_bits_per_weight",
            "block_compression",
            "block_int3_retention",
            "outlier_mse_ratio",
        ] {
            assert!(out.get(name).is_some(), "missing metric {name}");
        }
        let names: Vec<&str> = out.metrics.iter().map(|(n, _)| n.as_str()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "duplicate metric names");
        assert_eq!(out.tables[0].name, "generations");
        assert_eq!(out.tables[0].rows.len(), 3);
        // Every name the report section reads is one the trial writes.
        for name in report::key_metrics() {
            assert!(out.get(&name).is_some(), "report reads missing {name}");
        }
        for col in [
            names::GENERATION,
            names::TRAIN_BEST_FITNESS,
            names::TRAIN_MEAN_FITNESS,
            names::HELDOUT_BEST_FITNESS,
        ] {
            assert!(out.tables[0].columns.iter().any(|c| c == col), "{col}");
        }
        assert_eq!(out.documents[0].name, "champion");
        // Block-wise INT4 spends more bits per weight than 4 (metadata).
        assert!(metric(&out, "block_bits_per_weight") > 4.0);
        let r = metric(&out, "block_retention");
        assert!((r - metric(&out, "block_fitness") / metric(&out, "fp32_fitness")).abs() < 1e-12);
    }
}
