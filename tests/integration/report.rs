//! `evoquant report` and the report `run` writes: report.md and SVG plots
//! computed from the results folder, byte-for-byte reproducible.

use crate::harness::{TempDir, evoquant, read, run_quietly_with};
use evoquant::report::Frame;
use evoquant::report::plots::fmt_mean_ci;
use std::path::Path;

const CHAOS: &str = r#"
[study]
name = "tiny-chaos"
kind = "chaos_int4"
description = "report test"

[seeds]
base = 5
replicates = 2

[params]
population = 8
generations = 3
train_episodes = 1
eval_episodes = 2
"quant.eval_bits" = [2]

[sweep]
"quant.bits" = [2, 4]
"#;

const BIT_ALLOC: &str = r#"
[study]
name = "tiny-bits"
kind = "bit_allocation"

[seeds]
base = 3
replicates = 2

[params]
threshold = 0.95
population = 8
generations = 3
frontier_points = 6
"#;

const MIXED: &str = r#"
[study]
name = "tiny-mp"
kind = "mixed_precision"

[seeds]
base = 11
replicates = 2

[params]
model = "inventory"
inventory = "resnet50_like"
population_size = 8
max_generations = 3
# Below uniform FP16's weight memory: that baseline breaks the limit.
target_memory_mb = 40.0

[sweep]
hardware_target = ["arm_neon", "nvidia_tensorrt"]
"#;

/// Run a manifest into `dir/out` (extra flags appended) and return the folder.
fn run(dir: &TempDir, manifest: &str, extra: &[&str]) -> std::path::PathBuf {
    let m = dir.write("m.toml", manifest);
    let out = dir.join("out");
    run_quietly_with(&m, &out, extra);
    out
}

/// Parse an SVG and return every `<text>` content, trimmed.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = read(path);
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    root.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

fn count_tag(path: &Path, tag: &str) -> usize {
    let text = read(path);
    let doc = roxmltree::Document::parse(&text).unwrap();
    doc.descendants().filter(|n| n.has_tag_name(tag)).count()
}

fn assert_has(texts: &[String], needles: &[&str], what: &Path) {
    for n in needles {
        assert!(
            texts.iter().any(|t| t == n),
            "{}: no text {n:?} among {texts:?}",
            what.display()
        );
    }
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let md = dir.join("report.md");
    if md.exists() {
        out.push(("report.md".into(), std::fs::read(&md).unwrap()));
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("plots")) {
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            out.push((format!("plots/{name}"), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn chaos_report_has_plots_findings_and_summary() {
    let dir = TempDir::new("report-chaos");
    let out = run(&dir, CHAOS, &[]);
    let md = read(&out.join("report.md"));
    for needle in [
        "# tiny-chaos",
        "report test",
        "`chaos_int4`",
        "| trials | 4 (4 ok, 0 failed, 0 not run) |",
        "base seed 5, 2 replicates per point",
        "`quant.bits` ∈ {2, 4}",
        "## Findings",
        "## Summary",
        "| quant.bits | n | failed | fp32_fitness |",
        "![Fitness retained after quantization, per trial](plots/retention.svg)",
        "(plots/generations.svg)",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    // Every embedded plot exists and every plot is embedded.
    let plots: Vec<String> = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(plots.len() >= 3, "{plots:?}");
    for p in &plots {
        assert!(md.contains(&format!("(plots/{p})")), "{p} not embedded");
    }
    // The headline is computed from trials.csv, not written in.
    let trials = Frame::read_csv(&out.join("trials.csv")).unwrap();
    let (bits, ret) = (
        trials.column("quant.bits").unwrap(),
        trials.column("block_retention").unwrap(),
    );
    let at4: Vec<f64> = trials
        .rows
        .iter()
        .filter(|r| r[bits] == "4")
        .map(|r| r[ret].parse().unwrap())
        .collect();
    let expected = format!("block-wise retained {}", fmt_mean_ci(&at4, 100.0, "%"));
    let line = md
        .lines()
        .find(|l| l.starts_with("- quant.bits=4:"))
        .expect("a finding per point");
    assert!(line.contains(&expected), "{line}\nexpected {expected}");

    let retention = out.join("plots/retention.svg");
    let texts = svg_texts(&retention);
    assert_has(
        &texts,
        &[
            "sweep point (quant.bits)",
            "2",
            "4",
            "100% = FP32 fitness",
            "per-tensor",
            "block-wise",
            "block-wise INT2",
        ],
        &retention,
    );
    // One dot per trial (4) and method (4), plus one legend dot per method.
    assert_eq!(count_tag(&retention, "circle"), 4 * 4 + 4);
    let generations = out.join("plots/generations.svg");
    assert_has(
        &svg_texts(&generations),
        &["generation", "fitness (mean episode score)"],
        &generations,
    );
    let sweep = out.join("plots/sweep_block_retention.svg");
    assert_has(
        &svg_texts(&sweep),
        &[
            "block_retention: 95% CI",
            "block_retention: mean",
            "quant.bits",
            "2",
            "4",
        ],
        &sweep,
    );
}

#[test]
fn bit_allocation_report_draws_the_frontier_and_layers() {
    let dir = TempDir::new("report-bits");
    let out = run(&dir, BIT_ALLOC, &[]);
    let md = read(&out.join("report.md"));
    assert!(md.contains("the evolved champion reached on TEST"), "{md}");
    let plane = out.join("plots/plane.svg");
    assert_has(
        &svg_texts(&plane),
        &[
            "exact frontier",
            "evolved",
            "optimum",
            "all_fp32",
            "accuracy threshold 0.95",
        ],
        &plane,
    );
    let gens = out.join("plots/generations.svg");
    assert_has(
        &svg_texts(&gens),
        &["TRAIN: mean", "VALID: mean", "TEST: mean", "TEST: 95% CI"],
        &gens,
    );
    let layers = out.join("plots/layers.svg");
    assert_has(
        &svg_texts(&layers),
        &["evolved champion", "exact optimum", "32", "2"],
        &layers,
    );
    assert!(count_tag(&layers, "polyline") >= 2);
}

/// Attributes of every element with the given tag.
fn attrs(path: &Path, tag: &str, attr: &str) -> Vec<String> {
    let text = read(path);
    let doc = roxmltree::Document::parse(&text).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name(tag))
        .filter_map(|n| n.attribute(attr).map(str::to_string))
        .collect()
}

#[test]
fn mixed_precision_report_draws_fronts_hypervolume_and_bit_map() {
    let dir = TempDir::new("report-mp");
    let out = run(&dir, MIXED, &[]);
    let md = read(&out.join("report.md"));
    for needle in [
        "At hardware_target=arm_neon, over 2 seeds the chosen configuration",
        "At hardware_target=nvidia_tensorrt, the final Pareto front dominated",
        "uniform INT4 in ",
        " of 2",
        "not measurements on a device",
        "sensitivity curves (not measured)",
        "At hardware_target=arm_neon, baselines outside the hard limits",
        ": uniform FP16 in 2 of 2 trials.",
        "Across the sweep, the chosen configuration's mean modelled latency (ms) lowest ",
        "| best_accuracy | best_compression | best_latency_ms | hypervolume |",
        "![Pareto front: accuracy vs modelled latency (hardware_target=arm_neon)]",
    ] {
        assert!(md.contains(needle), "no {needle:?} in\n{md}");
    }
    for target in ["arm_neon", "nvidia_tensorrt"] {
        for (stem, axis) in [
            (
                "pareto_compression",
                "compression (× vs FP32 weight memory, scales and zero points included)",
            ),
            (
                "pareto_latency",
                "latency per inference (ms, analytical cost MODEL, not measured)",
            ),
        ] {
            let svg = out.join(format!("plots/{stem}_hardware_target_{target}.svg"));
            assert_has(
                &svg_texts(&svg),
                &[
                    axis,
                    "accuracy (sensitivity MODEL, not measured, 0–1)",
                    "front points (2 trials)",
                    "2-D non-dominated envelope",
                    "uniform FP16 (baseline; breaks a",
                    "hard limit)",
                    "uniform INT8 (baseline)",
                    "uniform INT4 (baseline)",
                    "sensitivity-greedy (baseline)",
                    "chosen (best weighted fitness)",
                ],
                &svg,
            );
            // Chosen configurations are hollow rings (one per trial at most,
            // plus the legend's), front points filled dots.
            let fills = attrs(&svg, "circle", "fill");
            let rings = fills.iter().filter(|f| *f == "none").count();
            assert!(
                (2..=3).contains(&rings),
                "{rings} rings in {}",
                svg.display()
            );
            assert!(
                fills.len() > rings + 1,
                "no front dots in {}",
                svg.display()
            );
        }
        let layers = out.join(format!("plots/layers_hardware_target_{target}.svg"));
        assert_has(
            &svg_texts(&layers),
            &[
                "weight bits",
                "activation bits (drawn slightly",
                "layer index (network order)",
                "bits (log scale)",
                "8",
            ],
            &layers,
        );
        // Two step lines of one segment pair per layer (54 layers), not
        // hundreds of labelled ticks.
        let long: Vec<usize> = attrs(&layers, "polyline", "points")
            .iter()
            .map(|p| p.split_whitespace().count())
            .filter(|&n| n >= 2 * 54)
            .collect();
        assert_eq!(long, vec![108, 108], "{}", layers.display());
    }
    let hv = out.join("plots/hypervolume.svg");
    assert_has(
        &svg_texts(&hv),
        &[
            "Hypervolume per generation, by hardware_target",
            "arm_neon: mean",
            "arm_neon: 95% CI",
            "nvidia_tensorrt: mean",
            "generation",
            "hypervolume (normalised, reference = FP32)",
        ],
        &hv,
    );
    assert_eq!(count_tag(&hv, "polygon"), 2, "one CI band per target");
}

/// Same results → same bytes, whether written by `run` or by `report`, and
/// `--no-report` leaves them out.
#[test]
fn reports_are_deterministic_and_optional() {
    let dir = TempDir::new("report-det");
    let out = run(&dir, BIT_ALLOC, &["--no-report"]);
    assert!(!out.join("report.md").exists());
    assert!(!out.join("plots").exists());
    let a = dir.join("a");
    let b = dir.join("b");
    for target in [&a, &b] {
        evoquant()
            .arg("report")
            .arg(&out)
            .arg("--out")
            .arg(target)
            .run()
            .success()
            .stdout_has("report.md");
    }
    let fa = files_under(&a);
    assert!(fa.len() > 3);
    assert_eq!(fa, files_under(&b));
    // A full run into another folder writes the very same report.
    let dir2 = TempDir::new("report-det2");
    let out2 = run(&dir2, BIT_ALLOC, &[]);
    assert_eq!(fa, files_under(&out2));
    // Regenerating in place replaces stale plots.
    std::fs::write(out2.join("plots/stale.svg"), "<svg/>").unwrap();
    evoquant().arg("report").arg(&out2).run().success();
    assert_eq!(fa, files_under(&out2));
}

#[test]
fn bad_results_dir_is_a_user_error_naming_the_path() {
    let dir = TempDir::new("report-bad");
    let missing = dir.join("nope");
    evoquant()
        .arg("report")
        .arg(&missing)
        .run()
        .code(2)
        .stderr_has(&missing.display().to_string())
        .no_panic();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    evoquant()
        .arg("report")
        .arg(&empty)
        .run()
        .code(2)
        .stderr_has(&empty.display().to_string())
        .stderr_has("report.json")
        .no_panic();
    // A results folder missing its trials.csv names that file.
    let out = run(&dir, BIT_ALLOC, &["--no-report"]);
    std::fs::remove_file(out.join("trials.csv")).unwrap();
    evoquant()
        .arg("report")
        .arg(&out)
        .run()
        .code(2)
        .stderr_has("trials.csv")
        .no_panic();
    assert!(!out.join("report.md").exists());
}
