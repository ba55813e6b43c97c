//! chaos_int4 through the CLI: every impossible parameter is rejected before
//! anything runs (exit 2, the key, file:line:col), and a tiny study runs.

use crate::harness::{TempDir, run_quietly, run_rejected};

const HEAD: &str =
    "[study]\nname = \"c\"\nkind = \"chaos_int4\"\n[seeds]\nreplicates = 1\n[params]\n";

/// (parameter line, key in the message). The line sits on line 7, after HEAD.
const BAD: &[(&str, &str)] = &[
    (
        "population = 1\ntournament_size = 1\nelitism = 0",
        "params.population",
    ),
    ("generations = 0", "params.generations"),
    ("train_episodes = 0", "params.train_episodes"),
    ("eval_episodes = 0", "params.eval_episodes"),
    ("\"quant.block_size\" = 0", "params.quant.block_size"),
    ("\"quant.bits\" = 0", "params.quant.bits"),
    ("\"quant.bits\" = 17", "params.quant.bits"),
    ("\"quant.eval_bits\" = [4, 32]", "params.quant.eval_bits"),
    ("tournament_size = 49", "params.tournament_size"),
    ("crossover_rate = 1.5", "params.crossover_rate"),
    ("mutation_rate = -0.1", "params.mutation_rate"),
    ("mutation_sigma = -0.3", "params.mutation_sigma"),
];

#[test]
fn impossible_parameters_exit_2_naming_key_and_location() {
    for (line, key) in BAD {
        run_rejected("chaos_bad", &format!("{HEAD}{line}\n"))
            .stderr_has(key)
            .stderr_has("bad.toml:7:");
    }
}

#[test]
fn a_tiny_study_runs_and_writes_its_artifacts() {
    let dir = TempDir::new("chaos_tiny");
    let text = format!(
        "{HEAD}population = 6\ngenerations = 2\ntrain_episodes = 1\neval_episodes = 2\n\"arena.steps\" = 50\n"
    );
    let path = dir.write("tiny.toml", &text);
    let out = dir.join("out");
    run_quietly(&path, &out);
    let trials = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    for col in [
        "fp32_fitness",
        "block_retention",
        "block_bits_per_weight",
        "outlier_mse_ratio",
    ] {
        assert!(trials.contains(col), "trials.csv lacks {col}");
    }
    assert!(out.join("generations.csv").is_file());
}
