//! `evoquant eval` on the real MiniLM model (models/, from
//! scripts/fetch-models.sh): similarity sanity, quantization ordering,
//! tokenization against the Python reference, determinism across thread
//! counts, a NumPy reference forward, and refusals of bad inputs.
//! Without the model these tests print a skip message, except under CI=true,
//! where they fail.

use super::harness::{TempDir, evoquant};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Both fetched models are present (under CI=true they must be).
pub fn models_present() -> bool {
    minilm().is_some() && crate::decoder::smollm().is_some()
}

pub fn minilm() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    if p.join("model.safetensors").exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "models/all-MiniLM-L6-v2 is missing under CI=true: run scripts/fetch-models.sh"
    );
    eprintln!("skipped: models/all-MiniLM-L6-v2 absent (run scripts/fetch-models.sh)");
    None
}

fn opts(texts: &[&str], config: &str) -> evoquant::models::transformer::EvalOptions {
    use evoquant::models::transformer::{CALIB_TEXT, EvalOptions, lines};
    EvalOptions {
        texts: texts.iter().map(|s| s.to_string()).collect(),
        calib: lines(CALIB_TEXT).into_iter().take(24).collect(),
        max_seq_len: 64,
        jobs: 2,
        config: evoquant::quant::qconfig::load(config).unwrap(),
    }
}

#[test]
fn minilm_ranks_paraphrases_above_unrelated_sentences() {
    let Some(dir) = minilm() else { return };
    use evoquant::models::transformer::{cosine_similarity as cos, eval_encoder};
    let texts = [
        "The bakery on Mill Lane will close for two weeks in August.",
        "Mill Lane's bakery is shutting for a fortnight in August.",
        "Update the router firmware only when it runs on mains power.",
        "Only flash new firmware to the router while it is plugged into the wall.",
        "The river flooded the lower fields after three days of rain.",
    ];
    let r = eval_encoder(&dir, &opts(&texts, "fp32")).unwrap();
    let e = &r.embeddings;
    // The reference against itself is exact.
    assert_eq!(r.min_cosine, 1.0);
    for (a, b) in [(0, 1), (2, 3)] {
        for u in 0..texts.len() {
            if u != a && u != b {
                assert!(
                    cos(&e[a], &e[b]) > cos(&e[a], &e[u]) + 0.1,
                    "{a},{b} vs {u}"
                );
            }
        }
    }
}

#[test]
fn minilm_w8_costs_far_less_than_w4_and_w4_far_less_than_w2() {
    let Some(dir) = minilm() else { return };
    use evoquant::models::transformer::{EVAL_TEXT, eval_encoder, lines};
    let texts: Vec<String> = lines(EVAL_TEXT).into_iter().take(24).collect();
    let t: Vec<&str> = texts.iter().map(String::as_str).collect();
    let loss = |c: &str| 1.0 - eval_encoder(&dir, &opts(&t, c)).unwrap().mean_cosine;
    let (w8, w4, w2) = (loss("w8"), loss("w4"), loss("w2"));
    eprintln!("1 - mean cosine: w8 {w8:.3e}, w4 {w4:.3e}, w2 {w2:.3e}");
    assert!(w8 > 0.0, "W8 must change the output");
    assert!(w8 * 10.0 < w4, "w8 {w8} vs w4 {w4}");
    assert!(w4 * 3.0 < w2, "w4 {w4} vs w2 {w2}");
    // Activations quantized too cost more than weights alone.
    assert!(loss("w8a8") > w8);
}

#[test]
fn minilm_tokenization_matches_the_python_tokenizers_package() {
    let Some(dir) = minilm() else { return };
    let tok =
        evoquant::models::transformer::tokenizer::Tokenizer::from_file(&dir.join("tokenizer.json"))
            .unwrap();
    // Reference ids from the Python `tokenizers` package 0.22 on the same file:
    //   Tokenizer.from_file("models/all-MiniLM-L6-v2/tokenizer.json").encode(s).ids
    // (its tokenizer.json pads to 128; the padding zeros are dropped here).
    let cases: [(&str, &[u32]); 3] = [
        (
            "The bakery on Mill Lane will close for two weeks.",
            &[
                101, 1996, 18112, 2006, 4971, 4644, 2097, 2485, 2005, 2048, 3134, 1012, 102,
            ],
        ),
        (
            "Quantization costs accuracy, doesn't it?",
            &[
                101, 24110, 3775, 9276, 5366, 10640, 1010, 2987, 1005, 1056, 2009, 1029, 102,
            ],
        ),
        ("naïve café résumé", &[101, 15743, 7668, 13746, 102]),
    ];
    for (s, ids) in cases {
        assert_eq!(tok.encode(s, 512).unwrap(), ids, "{s}");
    }
    // Truncation keeps the final [SEP].
    assert_eq!(tok.encode(cases[0].0, 4).unwrap(), [101, 1996, 18112, 102]);
}

fn dump(dir: &Path, out: &Path, jobs: &str, config: &str) {
    evoquant()
        .arg("eval")
        .arg(dir)
        .args([
            "--config",
            config,
            "--max-texts",
            "16",
            "--max-seq-len",
            "48",
            "--jobs",
            jobs,
            "--dump-outputs",
        ])
        .arg(out)
        .run()
        .success()
        .stdout_has("cosine to reference");
}

#[test]
fn minilm_dumps_are_identical_across_thread_counts() {
    let Some(dir) = minilm() else { return };
    let tmp = TempDir::new("eval-jobs");
    dump(&dir, &tmp.join("j1"), "1", "w4a8");
    dump(&dir, &tmp.join("j2"), "2", "w4a8");
    for f in ["tokens.json", "outputs.npy"] {
        let a = std::fs::read(tmp.join("j1").join(f)).unwrap();
        let b = std::fs::read(tmp.join("j2").join(f)).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{f} differs between --jobs 1 and --jobs 2");
    }
}

#[test]
fn minilm_matches_the_numpy_reference_forward() {
    let Some(dir) = minilm() else { return };
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_numpy {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "numpy is needed under CI=true"
        );
        eprintln!("skipped: numpy not importable");
        return;
    }
    let tmp = TempDir::new("eval-numpy");
    let out = tmp.join("d");
    dump(&dir, &out, "2", "fp32");
    // Tolerance 1e-4 (absolute, on unit-norm embeddings): both run f32
    // matmuls with different summation orders; f64 statistics in both norms.
    let st = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/minilm_numpy.py"))
        .arg(&dir)
        .arg(out.join("tokens.json"))
        .arg("--compare")
        .arg(out.join("outputs.npy"))
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&st.stdout);
    eprintln!("{msg}{}", String::from_utf8_lossy(&st.stderr));
    assert!(st.status.success(), "numpy reference differs: {msg}");
}

/// A copy of the MiniLM folder in which `edit` breaks something.
fn broken(dir: &Path, tmp: &TempDir, name: &str, edit: impl Fn(&Path)) -> PathBuf {
    let d = tmp.join(name);
    std::fs::create_dir_all(d.join("1_Pooling")).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(dir.join(f), d.join(f)).unwrap();
    }
    edit(&d);
    d
}

#[test]
fn bad_models_and_configs_exit_2_naming_the_file() {
    evoquant()
        .args(["eval", "no-such-org/no-such-model"])
        .run()
        .code(2)
        .no_panic()
        .stderr_has("scripts/fetch-models.sh")
        .stderr_has("models--no-such-org--no-such-model");
    let Some(dir) = minilm() else { return };
    let tmp = TempDir::new("eval-bad");
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            broken(&dir, &tmp, "trunc", |d| {
                let b = std::fs::read(d.join("model.safetensors")).unwrap();
                std::fs::write(d.join("model.safetensors"), &b[..b.len() / 2]).unwrap();
            }),
            "truncated",
        ),
        (
            broken(&dir, &tmp, "badtok", |d| {
                std::fs::write(d.join("tokenizer.json"), "{\"model\": 3").unwrap()
            }),
            "tokenizer.json",
        ),
        (
            broken(&dir, &tmp, "shape", |d| {
                let c = std::fs::read_to_string(d.join("config.json")).unwrap();
                std::fs::write(
                    d.join("config.json"),
                    c.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"),
                )
                .unwrap();
            }),
            "encoder.layer.0.intermediate.dense.weight",
        ),
        (
            broken(&dir, &tmp, "arch", |d| {
                let c = std::fs::read_to_string(d.join("config.json")).unwrap();
                std::fs::write(
                    d.join("config.json"),
                    c.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt9\""),
                )
                .unwrap();
            }),
            "gpt9",
        ),
    ];
    for (d, needle) in cases {
        let out = tmp.join("never");
        evoquant()
            .arg("eval")
            .arg(&d)
            .args(["--max-texts", "2", "--dump-outputs"])
            .arg(&out)
            .run()
            .code(2)
            .no_panic()
            .stderr_has(needle);
        assert!(!out.exists(), "nothing may be written for {needle}");
    }
    let cfg = tmp.write(
        "q.json",
        r#"{"schema":"evoquant.quant_config/1","layers":[{"name":"decoder.layer.0.fc","weights":{"format":"int","bits":4}}]}"#,
    );
    evoquant()
        .arg("eval")
        .arg(&dir)
        .arg("--config")
        .arg(&cfg)
        .args(["--max-texts", "2"])
        .run()
        .code(2)
        .no_panic()
        .stderr_has("decoder.layer.0.fc")
        .stderr_has("q.json");
}

#[test]
fn minilm_batched_embeddings_equal_each_text_alone_bit_for_bit() {
    use evoquant::models::transformer::{EVAL_TEXT, bert::Bert, linear, lines, tokenizer};
    use evoquant::quant::LayerQuant;
    let Some(dir) = minilm() else { return };
    let model = Bert::load(&dir).unwrap();
    let tok = tokenizer::Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    let texts: Vec<Vec<u32>> = lines(EVAL_TEXT)
        .iter()
        .take(5)
        .map(|t| tok.encode(t, 64).unwrap())
        .collect();
    let linears = model.linears();
    let cache = linear::WeightCache::default();
    let plans = linear::plans(
        &linears,
        &vec![LayerQuant::FP32; linears.len()],
        None,
        &cache,
    )
    .unwrap();
    let refs: Vec<&[u32]> = texts.iter().map(Vec::as_slice).collect();
    let batch = model.embed_batch(&refs, &plans, None).unwrap();
    for (ids, b) in texts.iter().zip(&batch) {
        let one = model.embed(ids, &plans, None).unwrap();
        assert!(one.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
