//! mixed_precision through the CLI: every bad parameter of issue 5 is
//! rejected before anything runs (exit 2, the key, file:line:col), a
//! safetensors file is imported, and a tiny study writes its artifacts.

use crate::harness::{TempDir, deterministic_files, evoquant, read, run_rejected};

const HEAD: &str =
    "[study]\nname = \"m\"\nkind = \"mixed_precision\"\n[seeds]\nreplicates = 1\n[params]\n";

/// (parameter line, key in the message, other text the message must hold).
/// The line sits on line 7, after HEAD.
const BAD: &[(&str, &str, &str)] = &[
    (
        "min_bits = 8\nmax_bits = 4",
        "params.min_bits",
        "greater than",
    ),
    ("min_bits = 3", "params.min_bits", "allowed"),
    ("max_bits = 32", "params.max_bits", "allowed"),
    (
        "activation_bits = [8, 2]",
        "params.activation_bits",
        "allowed",
    ),
    ("latency_weight = -0.2", "params.latency_weight", "≥ 0"),
    (
        "accuracy_weight = 0.0\ncompression_weight = 0.0\nlatency_weight = 0.0\nenergy_weight = 0.0",
        "params.accuracy_weight",
        "at least one",
    ),
    (
        "hardware_target = \"tpu\"",
        "params.hardware_target",
        "intel_vnni",
    ),
    (
        "hardware_target = \"custom\"\n\"custom.bandwidth_gbps\" = 10.0\n\"custom.tops\" = [0.0, 8.0, 0.0, 0.0, 0.0]",
        "params.custom.tops",
        "fp16 or fp32",
    ),
    (
        "hardware_target = \"custom\"\n\"custom.bandwidth_gbps\" = 10.0\n\"custom.tops\" = [0.0, -8.0, 0.0, 4.0, 0.0]",
        "params.custom.tops",
        "≥ 0",
    ),
    (
        "hardware_target = \"custom\"\n\"custom.bandwidth_gbps\" = 0.0\n\"custom.tops\" = [0.0, 8.0, 0.0, 4.0, 0.0]",
        "params.custom.bandwidth_gbps",
        "> 0",
    ),
    (
        "target_memory_mb = 1.0",
        "params.target_memory_mb",
        "no configuration can meet",
    ),
    (
        "target_latency_ms = 0.001",
        "params.target_latency_ms",
        "no configuration can meet",
    ),
    (
        "inventory_file = \"missing.safetensors\"",
        "params.inventory_file",
        "cannot read",
    ),
    (
        "population_size = 2",
        "params.population_size",
        "within 4..=",
    ),
    (
        "\"arch.enabled\" = true",
        "params.arch.enabled",
        "model = \"mlp\"",
    ),
    (
        "model = \"mlp\"\n\"arch.enabled\" = true\n\"arch.depth\" = [3, 1]",
        "params.arch.depth",
        "fewest",
    ),
    (
        "model = \"mlp\"\n\"arch.enabled\" = true\n\"arch.activations\" = [\"gelu\"]",
        "params.arch.activations",
        "tanh",
    ),
    (
        "model = \"mlp\"\n\"arch.enabled\" = true\nsearch = \"weighted_sum\"",
        "params.arch.enabled",
        "nsga2",
    ),
    (
        "\"mlp.qat_epochs\" = 2",
        "params.mlp.qat_epochs",
        "model = \"mlp\"",
    ),
];

/// A tiny co-evolution: the front holds several architectures, every
/// architecture's network is trained once (the architectures table lists
/// each once, with one FP32 accuracy), the paired quantization-only arm is
/// reported, binary/ternary genes appear with min_bits = 1, and every
/// output is byte-identical with 1 and 2 jobs.
#[test]
fn a_tiny_coevolution_is_deterministic_and_its_front_has_several_architectures() {
    let dir = TempDir::new("mp_coevolve");
    let text = format!(
        "{HEAD}model = \"mlp\"\npopulation_size = 12\nmax_generations = 6\nmin_bits = 1\nactivation_bits = [8]\n\
         calibrations = [\"min_max\"]\n\"mlp.train_size\" = 600\n\"mlp.test_size\" = 300\n\"mlp.calibration_size\" = 100\n\
         \"mlp.epochs\" = 3\n\"arch.enabled\" = true\n\"arch.depth\" = [1, 2]\n\"arch.widths\" = [8, 16, 32]\n\
         \"arch.activations\" = [\"relu\", \"tanh\"]\n"
    );
    let path = dir.write("co.toml", &text);
    let mut outs = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.join(&format!("out{jobs}"));
        evoquant()
            .arg("run")
            .arg(&path)
            .arg("--quiet")
            .arg("--jobs")
            .arg(jobs)
            .arg("--out")
            .arg(&out)
            .run()
            .success();
        outs.push(out);
    }
    assert_eq!(deterministic_files(&outs[0]), deterministic_files(&outs[1]));
    let out = &outs[0];
    let trials = read(&out.join("trials.csv"));
    for col in [
        "quant_only_hypervolume",
        "hypervolume_gain",
        "front_architectures",
        "architectures_trained",
        "best_architecture",
    ] {
        assert!(trials.contains(col), "trials.csv lacks {col}");
    }
    let pareto = read(&out.join("pareto.csv"));
    let header: Vec<&str> = pareto.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|c| *c == "architecture").unwrap();
    let archs: std::collections::BTreeSet<&str> = pareto
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap())
        .collect();
    assert!(archs.len() > 1, "one architecture on the front: {archs:?}");
    // Each architecture trained once: one row per architecture.
    let table = read(&out.join("architectures.csv"));
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|c| *c == "architecture").unwrap();
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{table}");
    assert!(out.join("quant_only_pareto.csv").is_file());
    let report = read(&out.join("report.md"));
    assert!(report.contains("Architectures on the front"), "{report}");
}

#[test]
fn bad_parameters_exit_2_naming_key_and_location() {
    for (line, key, text) in BAD {
        run_rejected("mp_bad", &format!("{HEAD}{line}\n"))
            .stderr_has(key)
            .stderr_has(text)
            .stderr_has("bad.toml:");
    }
}

/// A safetensors file: 8-byte little-endian header length, JSON header
/// (padded with spaces to 8 bytes), tensor data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

fn two_layers() -> Vec<u8> {
    let header = r#"{"a.weight":{"dtype":"F32","shape":[16,32],"data_offsets":[0,2048]},"b.weight":{"dtype":"F32","shape":[8,16],"data_offsets":[2048,2560]},"b.bias":{"dtype":"F32","shape":[8],"data_offsets":[2560,2592]}}"#;
    let mut data = Vec::new();
    for i in 0..(512 + 128 + 8) {
        // A deterministic, roughly bell-shaped spread of values.
        let x = ((i * 7919) % 1000) as f32 / 1000.0 - 0.5;
        data.extend((x * x * x * 4.0 + x * 0.1).to_le_bytes());
    }
    safetensors(header, &data)
}

#[test]
fn truncated_or_malformed_safetensors_exit_2_with_location() {
    let good = two_layers();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() - 100].to_vec(), "truncated"),
        (
            "malformed",
            safetensors("{\"a\": {\"dtype\": \"F32\"", &[]),
            "malformed",
        ),
        ("short", vec![1, 2, 3], "bad.safetensors"),
    ];
    for (name, bytes, text) in cases {
        let dir = TempDir::new("mp_st_bad");
        std::fs::write(dir.join("bad.safetensors"), bytes).unwrap();
        let path = dir.write(
            "bad.toml",
            &format!("{HEAD}inventory_file = \"bad.safetensors\"\n"),
        );
        evoquant()
            .arg("validate")
            .arg(&path)
            .run()
            .code(2)
            .no_panic()
            .stderr_has("params.inventory_file")
            .stderr_has("bad.toml:7:")
            .stderr_has(text);
        let _ = name;
    }
}

#[test]
fn a_tiny_study_on_an_imported_safetensors_file_runs() {
    let dir = TempDir::new("mp_tiny");
    std::fs::write(dir.join("m.safetensors"), two_layers()).unwrap();
    let text = format!(
        "{HEAD}inventory_file = \"m.safetensors\"\npopulation_size = 6\nmax_generations = 3\nhardware_target = \"intel_vnni\"\n"
    );
    let path = dir.write("tiny.toml", &text);
    let out = dir.join("out");
    evoquant()
        .arg("run")
        .arg(&path)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .run()
        .success();
    let trials = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    for col in [
        "best_accuracy",
        "best_compression",
        "best_latency_ms",
        "best_energy_mj",
        "best_memory_mb",
        "best_avg_bits",
        "hypervolume",
        "front_size",
        "front_dominates_uniform_int8",
    ] {
        assert!(trials.contains(col), "trials.csv lacks {col}");
    }
    assert!(trials.contains("measured per-layer weight relative MSE"));
    for table in ["pareto", "generations", "sensitivity", "baselines"] {
        assert!(out.join(format!("{table}.csv")).is_file(), "{table}.csv");
    }
    let sens = std::fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    assert!(sens.contains("a.weight") && sens.contains("b.weight"));
    assert!(!sens.contains("b.bias"));
    greedy_at_sizes_agrees_with_the_front(&out);
}

/// pareto.csv's sensitivity-greedy columns: each greedy allocation fits its
/// front point's memory, and the trial's summary metrics are computed from
/// exactly those rows.
fn greedy_at_sizes_agrees_with_the_front(out: &std::path::Path) {
    let get = first_trial(out);
    let pareto = crate::harness::read(&out.join("pareto.csv"));
    let mut rows = csv::Reader::from_reader(pareto.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = |k: &str| header.iter().position(|h| h == k).unwrap();
    let (acc, mem, gacc, gmem) = (
        col("accuracy"),
        col("memory_mb"),
        col("greedy_accuracy"),
        col("greedy_memory_mb"),
    );
    let mut gains = Vec::new();
    for r in rows.records() {
        let r = r.unwrap();
        let f = |c: usize| r[c].parse::<f64>().unwrap();
        if f(gacc).is_nan() {
            continue;
        }
        assert!(
            f(gmem) <= f(mem),
            "greedy {} MB > front {} MB",
            f(gmem),
            f(mem)
        );
        gains.push(f(acc) - f(gacc));
    }
    assert!(!gains.is_empty(), "no front point matched: {pareto}");
    assert_eq!(get("greedy_matched_points"), gains.len().to_string());
    let mean: f64 = get("greedy_accuracy_gain").parse().unwrap();
    let expect = gains.iter().sum::<f64>() / gains.len() as f64;
    assert!(
        (mean - expect).abs() <= 1e-9 * expect.abs().max(1.0),
        "{mean} vs {expect}"
    );
    let above: f64 = get("front_above_greedy_fraction").parse().unwrap();
    let k = gains.iter().filter(|&&d| d > 0.0).count() as f64 / gains.len() as f64;
    assert!((above - k).abs() < 1e-9, "{above} vs {k}");
}

/// The first row of `out/trials.csv`, looked up by column name.
fn first_trial(out: &std::path::Path) -> impl Fn(&str) -> String {
    let trials = crate::harness::read(&out.join("trials.csv"));
    let mut rows = csv::Reader::from_reader(trials.as_bytes());
    let header = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    move |k: &str| {
        row.get(header.iter().position(|h| h == k).unwrap())
            .unwrap()
            .to_string()
    }
}

/// `model = "transformer"` on the real MiniLM: the search runs, every
/// output says the accuracy is measured, and the exported configuration
/// measured again by `eval_encoder` (the code behind `evoquant eval`) on
/// the same texts gives the reported accuracy bit for bit.
#[test]
fn a_transformer_search_is_measured_and_its_export_reproduces_through_eval() {
    encoder_search_reproduces("min_bits = 4\nmax_bits = 4\n", &["int"]);
}

/// The same with sign genes only (min_bits = max_bits = 1: binary, and
/// ternary which comes with it): the real network's layers are measured with
/// sign weights, the export writes them as `binary` / `ternary`, and `eval`
/// reads them back to the same figure.
#[test]
fn a_transformer_search_with_binary_genes_reproduces_through_eval() {
    encoder_search_reproduces("min_bits = 1\nmax_bits = 1\n", &["binary", "ternary"]);
}

/// Search MiniLM with `bits` (manifest lines), check every exported layer's
/// weights are in one of `formats` and the export reproduces the best
/// accuracy through `eval_encoder`.
fn encoder_search_reproduces(bits: &str, formats: &[&str]) {
    let Some(model) = crate::eval::minilm() else {
        return;
    };
    use evoquant::models::transformer::{CALIB_TEXT, EVAL_TEXT, EvalOptions, eval_encoder, lines};
    let dir = crate::harness::TempDir::new("mp-transformer");
    let m = dir.write(
        "m.toml",
        &format!(
            "[study]\nname = \"t\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"transformer\"\nmodel_path = \"{}\"\neval_texts = 6\ncalib_texts = 6\nmax_seq_len = 24\ntokens = 24\npopulation_size = 4\nmax_generations = 1\n{bits}calibrations = [\"min_max\", \"percentile\"]\n",
            model.display()
        ),
    );
    let out = dir.join("out");
    crate::harness::run_into(&m, &out, &[]).success();
    let get = first_trial(&out);
    assert!(get("accuracy_source").starts_with("measured: mean cosine similarity"));
    assert!(get("model_description").starts_with("all-MiniLM-L6-v2 (BERT encoder"));
    let best: f64 = get("best_accuracy").parse().unwrap();
    assert!(best > 0.0 && best < 1.0, "{best}");
    let id = get("trial_id");
    let config = out.join(format!("trials/{id}/quant_config.json"));
    let doc: serde_json::Value = serde_json::from_str(&crate::harness::read(&config)).unwrap();
    for l in doc["layers"].as_array().unwrap() {
        let f = l["weights"]["format"].as_str().unwrap();
        assert!(formats.contains(&f), "{l}");
    }
    let opts = EvalOptions {
        texts: lines(EVAL_TEXT).into_iter().take(6).collect(),
        calib: lines(CALIB_TEXT).into_iter().take(6).collect(),
        max_seq_len: 24,
        jobs: 1,
        config: evoquant::quant::qconfig::read(&config).unwrap(),
    };
    let r = eval_encoder(&model, &opts).unwrap();
    assert_eq!(
        r.mean_cosine, best,
        "eval of the export differs from the search"
    );
}

/// `model = "transformer"` on the real SmolLM2 decoder with one gene per
/// layer role, a screen and an evaluation budget: the budget holds, the
/// front is re-measured on all texts (the pareto table shows both), the
/// export names every block linear layer with its role's gene, and
/// `eval_decoder` on the export reproduces exp(-mean KL) bit for bit.
#[test]
fn a_decoder_search_by_role_with_a_screen_reproduces_through_eval() {
    let Some(model) = crate::decoder::smollm() else {
        return;
    };
    use evoquant::models::transformer::{CALIB_TEXT, EVAL_TEXT, EvalOptions, decoder, lines};
    let dir = crate::harness::TempDir::new("mp-decoder");
    let m = dir.write(
        "m.toml",
        &format!(
            "[study]\nname = \"t\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"transformer\"\nmodel_path = \"{}\"\ntransformer_metric = \"kl_fidelity\"\nlayer_groups = \"role\"\neval_texts = 3\nscreen_texts = 1\ncalib_texts = 2\nmax_seq_len = 12\ntokens = 12\npopulation_size = 4\nmax_generations = 5\nmax_evaluations = 40\nmin_bits = 4\nmax_bits = 6\nactivation_bits = [16]\ncalibrations = [\"min_max\"]\n",
            model.display()
        ),
    );
    let out = dir.join("out");
    crate::harness::run_into(&m, &out, &[]).success();
    let get = first_trial(&out);
    assert!(get("accuracy_source").starts_with("measured: KL fidelity"));
    assert!(get("screen_source").contains("on 1 built-in evaluation texts"));
    assert_eq!(get("layers"), "7");
    // 7 roles × 2 widths for the sensitivity analysis leave 26 of the 40
    // evaluations to the greedy baseline (at most 8), the initial population
    // and the generations; the 3 uniform baselines come on top.
    let spent: u64 = get("evaluations").parse().unwrap();
    assert_eq!(get("sensitivity_evaluations"), "14");
    assert!(spent <= 26 + 3, "{spent}");
    // Whether the budget cuts generations short depends on the seed (cache
    // hits are free); the stop itself is tested in the study's unit tests.
    let generations: u64 = get("generations_run").parse().unwrap();
    assert!(generations <= 5, "{generations}");
    let pareto = crate::harness::read(&out.join("pareto.csv"));
    assert!(pareto.lines().next().unwrap().contains("screen_accuracy"));
    let best: f64 = get("best_accuracy").parse().unwrap();
    assert!(best > 0.0 && best < 1.0, "{best}");
    let config_path = out.join(format!("trials/{}/quant_config.json", get("trial_id")));
    let doc: serde_json::Value = serde_json::from_str(&crate::harness::read(&config_path)).unwrap();
    let layers = doc["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 30 * 7);
    assert_eq!(layers[0]["name"], "blk.0.attn_q");
    assert_eq!(layers[7]["weights"], layers[0]["weights"]);
    let (llama, tok) = decoder::load(&model, true).unwrap();
    let opts = EvalOptions {
        texts: lines(EVAL_TEXT).into_iter().take(3).collect(),
        calib: lines(CALIB_TEXT).into_iter().take(2).collect(),
        max_seq_len: 12,
        jobs: 1,
        config: evoquant::quant::qconfig::read(&config_path).unwrap(),
    };
    let r = decoder::eval_decoder(&llama, &tok, &opts).unwrap();
    assert_eq!(
        (-r.mean_kl).exp(),
        best,
        "eval of the export differs from the search"
    );
}

/// `formats = "ggml"`: a search on SmolLM2 whose every gene is a type GGUF
/// stores exactly; the exported configuration applies to GGUF without
/// `--nearest`, each searched layer in the type its gene names, and the
/// uniform baselines are the ggml types a llama.cpp user would pick.
#[test]
fn a_ggml_search_exports_a_configuration_apply_writes_as_is() {
    let Some(model) = crate::decoder::smollm() else {
        return;
    };
    let dir = TempDir::new("mp-ggml");
    let m = dir.write(
        "m.toml",
        &format!(
            "[study]\nname = \"g\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"transformer\"\nmodel_path = \"{}\"\ntransformer_metric = \"kl_fidelity\"\nlayer_groups = \"role\"\nformats = \"ggml\"\neval_texts = 2\ncalib_texts = 2\nmax_seq_len = 10\ntokens = 10\npopulation_size = 4\nmax_generations = 1\nmin_bits = 4\nmax_bits = 16\n",
            model.display()
        ),
    );
    let out = dir.join("out");
    crate::harness::run_into(&m, &out, &[]).success();
    let get = first_trial(&out);
    let config = out.join(format!("trials/{}/quant_config.json", get("trial_id")));
    let doc: serde_json::Value = serde_json::from_str(&read(&config)).unwrap();
    let mut expect = Vec::new();
    for l in doc["layers"].as_array().unwrap() {
        let w = &l["weights"];
        match w["format"].as_str().unwrap() {
            "ggml" => expect.push((
                l["name"].as_str().unwrap().to_string(),
                w["type"].as_str().unwrap().to_ascii_uppercase(),
            )),
            "float" => assert_eq!(w["bits"], 16, "{l}"),
            f => panic!("format {f} in a ggml search: {l}"),
        }
        assert_eq!(l["activations"]["format"], "float", "{l}");
        assert_eq!(l["activations"]["bits"], 32, "{l}");
    }
    assert!(!expect.is_empty(), "no ggml layer chosen: {doc}");
    let gguf = dir.join("chosen.gguf");
    evoquant()
        .arg("apply")
        .arg(&model)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&gguf)
        .run()
        .success();
    let g = evoquant::models::gguf::Gguf::open(&gguf).unwrap();
    for (name, kind) in &expect {
        let t = g.tensor(&format!("{name}.weight")).unwrap();
        assert_eq!(t.kind.name(), kind, "{name}");
    }
    let baselines = read(&out.join("baselines.csv"));
    assert!(
        baselines.contains("Q8_0") && baselines.contains("Q4_0"),
        "{baselines}"
    );
}

/// `formats = "ggml"` exits 2 naming the key when the widths hold no ggml
/// type, or when a layer's rows are not whole 32-value blocks (the tiny
/// decoder's 48-wide down projection).
#[test]
fn a_ggml_search_gguf_cannot_store_is_refused() {
    let dir = TempDir::new("mp-ggml-bad");
    let path = dir.write(
        "m.toml",
        &format!("{HEAD}formats = \"ggml\"\nmin_bits = 6\nmax_bits = 6\n"),
    );
    let o = evoquant().arg("run").arg(&path).arg("--quiet").run();
    o.code(2)
        .stderr_has("params.formats")
        .stderr_has("4, 8 or 16");
    std::fs::write(
        dir.join("tiny.gguf"),
        crate::decoder::tiny_gguf("llama", |_| {}),
    )
    .unwrap();
    let path = dir.write(
        "t.toml",
        "[study]\nname = \"g\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"transformer\"\nmodel_path = \"tiny.gguf\"\ntransformer_metric = \"kl_fidelity\"\nformats = \"ggml\"\neval_texts = 2\ncalib_texts = 2\n",
    );
    let o = evoquant().arg("run").arg(&path).arg("--quiet").run();
    o.code(2)
        .stderr_has("params.formats")
        .stderr_has("blk.0.ffn_down");
}
