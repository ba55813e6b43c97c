//! `evoquant apply`: a mixed-precision configuration written as GGUF is what
//! eval measured (bit-identical logits), gguf-py reads it and its blocks equal
//! gguf-py's own quantizer; refusals exit 2 naming the layer and leave no
//! file; safetensors and llama-quantize outputs. Tiny synthetic models (no
//! download) plus SmolLM2 when models/ has it; the gguf-py comparison skips
//! with a message only when python3/gguf is missing and CI is not set.

use super::decoder::{tiny_gguf, tiny_texts};
use super::harness::{TempDir, evoquant};
use evoquant::models::gguf::{Gguf, TensorType};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mixed configuration: every exact type, a named fp32 layer, the
/// embedding, and the tied head split off at its own type.
const MIXED: &str = r#"{"schema":"evoquant.quant_config/1","layers":[
  {"name":"blk.0.attn_q","weights":{"format":"ggml","type":"q4_0"}},
  {"name":"blk.0.attn_k","weights":{"format":"ggml","type":"q4_1","bits":4}},
  {"name":"blk.0.attn_v","weights":{"format":"ggml","type":"q8_0"}},
  {"name":"blk.0.ffn_down","weights":{"format":"float","bits":16}},
  {"name":"blk.1.ffn_gate","weights":{"format":"float","bits":32}},
  {"name":"blk.1.ffn_up","weights":{"format":"ggml","type":"q4_0"},"activations":{"format":"float","bits":32}},
  {"name":"token_embd","weights":{"format":"ggml","type":"q8_0"}},
  {"name":"output","weights":{"format":"ggml","type":"q4_1"}}]}"#;

/// (tensor, type, source tensor) that MIXED must produce.
const MIXED_TYPES: &[(&str, &str, &str)] = &[
    ("blk.0.attn_q.weight", "Q4_0", "blk.0.attn_q.weight"),
    ("blk.0.attn_k.weight", "Q4_1", "blk.0.attn_k.weight"),
    ("blk.0.attn_v.weight", "Q8_0", "blk.0.attn_v.weight"),
    ("blk.0.ffn_down.weight", "F16", "blk.0.ffn_down.weight"),
    ("blk.1.ffn_gate.weight", "F32", "blk.1.ffn_gate.weight"),
    ("blk.1.ffn_up.weight", "Q4_0", "blk.1.ffn_up.weight"),
    ("token_embd.weight", "Q8_0", "token_embd.weight"),
    ("output.weight", "Q4_1", "token_embd.weight"),
];

fn tiny(tmp: &TempDir) -> PathBuf {
    let g = tmp.join("tiny.gguf");
    std::fs::write(&g, tiny_gguf("llama", |_| {})).unwrap();
    g
}

fn eval_dump(model: &Path, config: Option<&Path>, texts: &Path, out: &Path) -> String {
    let mut c = evoquant()
        .arg("eval")
        .arg(model)
        .arg("--text")
        .arg(texts)
        .args(["--jobs", "2", "--dump-outputs"])
        .arg(out);
    if let Some(cfg) = config {
        c = c.arg("--config").arg(cfg);
    }
    let o = c.run();
    o.success();
    o.stdout.clone()
}

/// "perplexity: X (reference Y)" → (X, Y).
fn perplexity(stdout: &str) -> (String, String) {
    let l = stdout
        .lines()
        .find(|l| l.starts_with("perplexity:"))
        .expect("perplexity line");
    let mut w = l.split([' ', ')']).filter(|s| !s.is_empty());
    let q = w.nth(1).unwrap().to_string();
    let r = w.nth(1).unwrap().to_string();
    (q, r)
}

/// python3 with numpy and gguf, or a printed skip (a failure under CI=true).
fn python_gguf() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy, gguf"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with numpy and gguf (gguf-py) is needed under CI=true"
        );
        eprintln!("skipped: python3 with numpy and gguf not importable");
    }
    ok
}

fn reference_check(out: &Path, src: &Path, expect: &[(String, String, String)], tmp: &TempDir) {
    let map: serde_json::Map<String, serde_json::Value> = expect
        .iter()
        .map(|(t, k, f)| (t.clone(), serde_json::json!([k, f])))
        .collect();
    let e = tmp.write("expect.json", &serde_json::Value::Object(map).to_string());
    let st = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/gguf_apply_check.py"))
        .arg(out)
        .arg(src)
        .arg(&e)
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&st.stdout);
    eprintln!("{msg}{}", String::from_utf8_lossy(&st.stderr));
    assert!(st.status.success(), "gguf-py check failed: {msg}");
}

fn owned(t: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    t.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn mixed_gguf_reproduces_eval_bit_for_bit_and_matches_gguf_py() {
    let tmp = TempDir::new("apply-mixed");
    let src = tiny(&tmp);
    let cfg = tmp.write("quant_config.json", MIXED);
    let out = tmp.join("mixed.gguf");
    evoquant()
        .arg("apply")
        .arg(&src)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .run()
        .success()
        .stdout_has("8 configured tensors");
    let g = Gguf::open(&out).unwrap();
    assert_eq!(g.version, 3);
    for (name, kind, _) in MIXED_TYPES {
        let t = g.tensor(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(t.kind.name(), *kind, "{name}");
    }
    assert_eq!(
        g.tensor("blk.1.attn_q.weight").unwrap().kind,
        TensorType::F32
    );
    // The file without a config is the configuration: same logits, and its
    // "reference" perplexity is the configuration's perplexity.
    let texts = tiny_texts(&tmp);
    let a = eval_dump(&src, Some(&cfg), &texts, &tmp.join("cfg"));
    let b = eval_dump(&out, None, &texts, &tmp.join("file"));
    for f in ["tokens.json", "outputs.npy"] {
        assert_eq!(
            std::fs::read(tmp.join("cfg").join(f)).unwrap(),
            std::fs::read(tmp.join("file").join(f)).unwrap(),
            "{f}"
        );
    }
    let (qa, ra) = perplexity(&a);
    let (qb, rb) = perplexity(&b);
    assert_ne!(qa, ra, "the configuration changes the model");
    assert_eq!((qb.as_str(), rb.as_str()), (qa.as_str(), qa.as_str()));
    if python_gguf() {
        reference_check(&out, &src, &owned(MIXED_TYPES), &tmp);
    }
}

#[test]
fn bad_configs_exit_2_naming_the_layer_and_write_nothing() {
    let tmp = TempDir::new("apply-bad");
    let src = tiny(&tmp);
    let layer =
        |name: &str, w: &str| format!(r#"{{"layers":[{{"name":"{name}","weights":{w}}}]}}"#);
    let q4 = r#"{"format":"ggml","type":"q4_0"}"#;
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (layer("blk.9.attn_q", q4), vec![], "`blk.9.attn_q`: not a weight matrix"),
        (layer("blk.0.attn_norm", q4), vec![], "`blk.0.attn_norm`: not a weight matrix"),
        (
            layer("blk.0.attn_q", r#"{"format":"int","bits":4,"granularity":"per_group"}"#),
            vec![],
            "`blk.0.attn_q`: weights int4 symmetric per_group 32 min_max (f32 scales) have no exact ggml type (nearest: Q4_0, Q4_1, Q8_0)",
        ),
        (layer("blk.0.ffn_down", q4), vec![], "`blk.0.ffn_down`: Q4_0 stores whole 32-value blocks along rows, but rows of blk.0.ffn_down.weight hold 48 values"),
        (
            r#"{"layers":[{"name":"blk.1.attn_v","weights":{"format":"ggml","type":"q8_0"},"activations":{"format":"int","bits":8}}]}"#.into(),
            vec![],
            "`blk.1.attn_v`: activations at Int",
        ),
        ("w4a8".into(), vec!["--nearest"], "activations at Int"),
        (layer("blk.0.attn_q", q4), vec!["--format", "nope"], "invalid value 'nope'"),
    ];
    for (i, (cfg, extra, want)) in cases.iter().enumerate() {
        let cfg = if cfg.starts_with('{') {
            tmp.write(&format!("c{i}.json"), cfg).display().to_string()
        } else {
            cfg.clone()
        };
        let out = tmp.join(&format!("out{i}.gguf"));
        evoquant()
            .arg("apply")
            .arg(&src)
            .args(["--config", &cfg])
            .arg("--out")
            .arg(&out)
            .args(extra.iter().copied())
            .run()
            .code(2)
            .stderr_has(want)
            .no_panic();
        assert!(!out.exists(), "case {i}: {} written", out.display());
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".evoquant-tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // The model itself is never the output.
    evoquant()
        .arg("apply")
        .arg(&src)
        .args(["--config", "q8_0", "--out"])
        .arg(&src)
        .run()
        .code(2)
        .stderr_has("is the model itself");
}

#[test]
fn nearest_writes_int_genes_as_the_closest_type_and_says_so() {
    let tmp = TempDir::new("apply-nearest");
    let src = tiny(&tmp);
    // ffn_down rows (48) are not whole blocks: keep them f16.
    let cfg = tmp.write(
        "c.json",
        r#"{"layers":[{"name":"blk.0.attn_q","weights":{"format":"int","bits":4,"scheme":"asymmetric"}},
                      {"name":"blk.0.attn_k","weights":{"format":"int","bits":8}}]}"#,
    );
    let out = tmp.join("n.gguf");
    evoquant()
        .arg("apply")
        .arg(&src)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--nearest")
        .run()
        .success()
        .stdout_has("note: layer `blk.0.attn_q`: int4 asymmetric per_channel min_max (f32 scales) written as the nearest ggml type Q4_1 (not bit-exact");
    let g = Gguf::open(&out).unwrap();
    assert_eq!(g.tensor("blk.0.attn_q.weight").unwrap().kind.name(), "Q4_1");
    assert_eq!(g.tensor("blk.0.attn_k.weight").unwrap().kind.name(), "Q8_0");
}

#[test]
fn safetensors_holds_the_fake_quantized_weights_and_the_config() {
    let tmp = TempDir::new("apply-st");
    let src = tiny(&tmp);
    let cfg = tmp.write(
        "c.json",
        r#"{"layers":[{"name":"blk.0.ffn_down","weights":{"format":"int","bits":3,"granularity":"per_group","group_size":16}},
                      {"name":"blk.1.attn_q","weights":{"format":"ggml","type":"q4_0"}}]}"#,
    );
    let out = tmp.join("m.safetensors");
    evoquant()
        .arg("apply")
        .arg(&src)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .run()
        .success();
    let bytes = std::fs::read(&out).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let m = meta.metadata().as_ref().unwrap();
    assert!(m["evoquant.quant_config"].contains("blk.0.ffn_down"));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let g = Gguf::open(&src).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    // Each covered tensor equals its gene's fake quantization, the rest is unchanged.
    let w = g.f32("blk.0.ffn_down.weight", &[32, 48]).unwrap();
    let spec = evoquant::quant::QuantSpec {
        granularity: evoquant::quant::Granularity::PerGroup,
        group_size: 16,
        ..evoquant::quant::QuantSpec::per_channel(3)
    };
    let mut want = vec![0.0; w.len()];
    evoquant::quant::fake_quantize(&w, &[32, 48], &spec, &mut want).unwrap();
    assert_eq!(f32s("blk.0.ffn_down.weight"), want);
    assert_ne!(want, w);
    let w = g.f32("blk.1.attn_q.weight", &[32, 32]).unwrap();
    let mut want = vec![0.0; w.len()];
    evoquant::quant::gguf_fake_quantize(&w, 32, evoquant::quant::GgufFormat::Q4_0, &mut want)
        .unwrap();
    assert_eq!(f32s("blk.1.attn_q.weight"), want);
    assert_eq!(
        f32s("blk.1.attn_k.weight"),
        g.f32("blk.1.attn_k.weight", &[16, 32]).unwrap()
    );
}

#[test]
fn llama_quantize_lists_one_tensor_type_per_layer() {
    let tmp = TempDir::new("apply-lq");
    let src = tiny(&tmp);
    let cfg = tmp.write("quant_config.json", MIXED);
    let out = tmp.join("q.sh");
    evoquant()
        .arg("apply")
        .arg(&src)
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .run()
        .success()
        .stdout_has("llama-quantize cannot split them");
    let s = std::fs::read_to_string(&out).unwrap();
    for line in [
        r"--tensor-type '^blk\.0\.attn_q\.weight$=q4_0'",
        r"--tensor-type '^blk\.0\.attn_k\.weight$=q4_1'",
        r"--tensor-type '^blk\.0\.ffn_down\.weight$=f16'",
        "--token-embedding-type q8_0",
        "--output-tensor-type q4_1",
        "--pure",
        "llama-quantize",
    ] {
        assert!(s.contains(line), "{line} missing in\n{s}");
    }
    assert!(!s.contains("--allow-requantize"), "f32 source: {s}");
}

fn smollm() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "models/SmolLM2-135M-Instruct.Q4_1.gguf is missing under CI=true: run scripts/fetch-models.sh"
    );
    eprintln!(
        "skipped: models/SmolLM2-135M-Instruct.Q4_1.gguf absent (run scripts/fetch-models.sh)"
    );
    None
}

#[test]
fn smollm2_q4_0_file_is_the_configuration_and_gguf_py_agrees() {
    let Some(src) = smollm() else { return };
    let tmp = TempDir::new("apply-smollm");
    let out = tmp.join("q4_0.gguf");
    evoquant()
        .arg("apply")
        .arg(&src)
        .args(["--config", "q4_0", "--out"])
        .arg(&out)
        .run()
        .success()
        .stdout_has("210 configured tensors (210 Q4_0)");
    let texts = tmp.write(
        "t.txt",
        "The quick brown fox jumps over the lazy dog.\nWater boils at one hundred degrees.\n",
    );
    let a = eval_dump(&src, Some(Path::new("q4_0")), &texts, &tmp.join("cfg"));
    let b = eval_dump(&out, None, &texts, &tmp.join("file"));
    assert_eq!(
        std::fs::read(tmp.join("cfg/outputs.npy")).unwrap(),
        std::fs::read(tmp.join("file/outputs.npy")).unwrap()
    );
    assert_eq!(perplexity(&b).1, perplexity(&a).0);
    if python_gguf() {
        let g = Gguf::open(&src).unwrap();
        let expect: Vec<(String, String, String)> = g
            .tensors
            .iter()
            .filter(|t| t.name.starts_with("blk.") && t.dims.len() == 2)
            .map(|t| (t.name.clone(), "Q4_0".into(), t.name.clone()))
            .collect();
        reference_check(&out, &src, &expect, &tmp);
    }
}

#[test]
fn quantize_reads_a_tensor_of_a_model_file_and_lists_them() {
    let tmp = TempDir::new("apply-qt");
    let src = tiny(&tmp);
    evoquant()
        .arg("quantize")
        .arg(&src)
        .arg("--list-tensors")
        .run()
        .success()
        .stdout_has("blk.0.attn_q.weight\t[32, 32]\tF32");
    // The tensor of the model equals the same values given as .npy, byte for byte.
    let g = Gguf::open(&src).unwrap();
    let w = g.f32("blk.0.attn_q.weight", &[32, 32]).unwrap();
    let npy = tmp.join("w.npy");
    std::fs::write(&npy, evoquant::quant::npy::encode_npy(&[32, 32], &w)).unwrap();
    let (a, b) = (tmp.join("a.q"), tmp.join("b.q"));
    for (input, tensor, out, cal) in [
        (&src, Some("blk.0.attn_q.weight"), &a, "min_max"),
        (&npy, None, &b, "minmax"), // the former spelling still works
    ] {
        let mut c = evoquant().arg("quantize").arg(input);
        if let Some(t) = tensor {
            c = c.args(["--tensor", t]);
        }
        c.args([
            "--format",
            "int",
            "--bits",
            "4",
            "--granularity",
            "per_group",
        ])
        .args(["--calibration", cal, "--out"])
        .arg(out)
        .run()
        .success();
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    for (args, want) in [
        (vec!["--tensor", "nope"], "no tensor `nope`"),
        (vec![], "name a tensor with --tensor NAME"),
    ] {
        evoquant()
            .arg("quantize")
            .arg(&src)
            .args(args)
            .args(["--format", "q8_0", "--out"])
            .arg(tmp.join("x.q"))
            .run()
            .code(2)
            .stderr_has(want)
            .no_panic();
    }
    evoquant()
        .arg("quantize")
        .arg(&npy)
        .args(["--tensor", "w", "--format", "q8_0", "--out"])
        .arg(tmp.join("x.q"))
        .run()
        .code(2)
        .stderr_has("is a single tensor");
    assert!(!tmp.join("x.q").exists());
}

#[test]
fn minilm_safetensors_with_fake_quantized_weights_is_the_configuration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    if !dir.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "models/all-MiniLM-L6-v2 is missing under CI=true: run scripts/fetch-models.sh"
        );
        eprintln!("skipped: models/all-MiniLM-L6-v2 absent (run scripts/fetch-models.sh)");
        return;
    }
    let tmp = TempDir::new("apply-minilm");
    let copy = tmp.join("mini");
    std::fs::create_dir_all(copy.join("1_Pooling")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::copy(&p, copy.join(e.file_name())).unwrap();
        }
    }
    for e in std::fs::read_dir(dir.join("1_Pooling")).unwrap().flatten() {
        std::fs::copy(e.path(), copy.join("1_Pooling").join(e.file_name())).unwrap();
    }
    evoquant()
        .arg("apply")
        .arg(&dir)
        .args(["--config", "w4", "--out"])
        .arg(copy.join("model.safetensors"))
        .run()
        .success()
        .stdout_has("36 configured tensors");
    let run = |model: &Path, config: &str, out: &Path| {
        evoquant()
            .arg("eval")
            .arg(model)
            .args(["--config", config, "--max-texts", "6", "--dump-outputs"])
            .arg(out)
            .run()
            .success();
    };
    run(&dir, "w4", &tmp.join("cfg"));
    run(&copy, "fp32", &tmp.join("file"));
    assert_eq!(
        std::fs::read(tmp.join("cfg/outputs.npy")).unwrap(),
        std::fs::read(tmp.join("file/outputs.npy")).unwrap()
    );
}
