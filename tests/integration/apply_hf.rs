//! `evoquant apply --format gguf` from a Hugging Face folder: a synthetic
//! LLaMA folder written here (random weights, a byte-level BPE
//! tokenizer.json) and all-MiniLM-L6-v2 (BERT) from models/. gguf-py reads
//! each file and scripts/reference/hf_gguf_check.py compares metadata,
//! tokens, tensor names, types, shapes and bytes with config.json,
//! tokenizer.json and gguf-py's quantizer on the (Q/K-permuted) source; the
//! LLaMA GGUF evaluates like the folder with the same configuration; user
//! mistakes exit 2 naming the file, key or layer. The gguf-py check skips
//! with a message when python3/gguf is missing and CI is not set.

use super::harness::{Cmd, TempDir, evoquant};
use evoquant::models::gguf::Gguf;
use std::path::{Path, PathBuf};
use std::process::Command;

/// layers, hidden, ffn, heads, kv heads: rows of 64 / 128 (whole blocks).
const DIMS: (usize, usize, usize, usize, usize) = (2, 64, 128, 4, 2);
/// Padding ids past tokenizer.json's vocabulary ([PADi] tokens in the GGUF).
const EXTRA_IDS: usize = 3;

fn vocab() -> Vec<String> {
    let mut v: Vec<String> = vec!["<s>".into(), "</s>".into()];
    v.extend((33u8..127).map(|b| (b as char).to_string()));
    v.push("\u{120}".into()); // GPT-2's byte-level spelling of a space
    for m in ["th", "he", "\u{120}t", "\u{120}the", "an", "in"] {
        v.push(m.into());
    }
    v
}

const MERGES: &[&str] = &["t h", "h e", "\u{120} t", "\u{120}t he", "a n", "i n"];

/// (HF name, shape) of the synthetic LLaMA, untied head.
fn llama_tensors() -> Vec<(String, Vec<usize>)> {
    let (nl, h, f, nh, nkv) = DIMS;
    let kv = nkv * (h / nh);
    let v = vocab().len() + EXTRA_IDS;
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, h])];
    for i in 0..nl {
        let p = format!("model.layers.{i}");
        for (n, s) in [
            ("input_layernorm", vec![h]),
            ("self_attn.q_proj", vec![h, h]),
            ("self_attn.k_proj", vec![kv, h]),
            ("self_attn.v_proj", vec![kv, h]),
            ("self_attn.o_proj", vec![h, h]),
            ("post_attention_layernorm", vec![h]),
            ("mlp.gate_proj", vec![f, h]),
            ("mlp.up_proj", vec![f, h]),
            ("mlp.down_proj", vec![h, f]),
        ] {
            t.push((format!("{p}.{n}.weight"), s));
        }
    }
    t.push(("model.norm.weight".into(), vec![h]));
    t.push(("lm_head.weight".into(), vec![v, h]));
    t
}

/// HF → GGUF name as convert_hf_to_gguf.py's LlamaModel maps it.
fn llama_gguf_name(hf: &str) -> String {
    if hf == "model.embed_tokens.weight" {
        return "token_embd.weight".into();
    }
    if hf == "model.norm.weight" {
        return "output_norm.weight".into();
    }
    if hf == "lm_head.weight" {
        return "output.weight".into();
    }
    let rest = hf.strip_prefix("model.layers.").unwrap();
    let (i, rest) = rest.split_once('.').unwrap();
    let role = match rest {
        "input_layernorm.weight" => "attn_norm",
        "self_attn.q_proj.weight" => "attn_q",
        "self_attn.k_proj.weight" => "attn_k",
        "self_attn.v_proj.weight" => "attn_v",
        "self_attn.o_proj.weight" => "attn_output",
        "post_attention_layernorm.weight" => "ffn_norm",
        "mlp.gate_proj.weight" => "ffn_gate",
        "mlp.up_proj.weight" => "ffn_up",
        "mlp.down_proj.weight" => "ffn_down",
        other => panic!("{other}"),
    };
    format!("blk.{i}.{role}.weight")
}

fn write_llama_folder(dir: &Path) {
    use rand::{Rng, SeedableRng};
    use safetensors::tensor::{Dtype, TensorView};
    let (nl, h, f, nh, nkv) = DIMS;
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(16);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = llama_tensors()
        .into_iter()
        .map(|(n, s)| {
            let norm = s.len() == 1;
            let b: Vec<u8> = (0..s.iter().product::<usize>())
                .flat_map(|_| {
                    let x: f32 = if norm {
                        rng.random_range(0.8f32..1.2)
                    } else {
                        rng.random_range(-0.3f32..0.3)
                    };
                    x.to_le_bytes()
                })
                .collect();
            (n, s, b)
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": h, "intermediate_size": f, "num_hidden_layers": nl,
        "num_attention_heads": nh, "num_key_value_heads": nkv,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
        "vocab_size": vocab().len() + EXTRA_IDS, "tie_word_embeddings": false,
        "hidden_act": "silu", "bos_token_id": 0, "eos_token_id": 1
    });
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let v: serde_json::Map<String, serde_json::Value> = vocab()
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), serde_json::json!(i)))
        .collect();
    let tj = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [
            {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "vocab": v, "merges": MERGES}
    });
    std::fs::write(dir.join("tokenizer.json"), tj.to_string()).unwrap();
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

/// Every tensor of the file: GGUF name → (type, HF name, heads to permute over).
type Expect = Vec<(String, String, String, usize)>;

fn reference_check(out: &Path, dir: &Path, expect: &Expect, tmp: &TempDir) {
    let map: serde_json::Map<String, serde_json::Value> = expect
        .iter()
        .map(|(g, k, hf, h)| (g.clone(), serde_json::json!([k, hf, h])))
        .collect();
    let e = tmp.write("expect.json", &serde_json::Value::Object(map).to_string());
    let st = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference/hf_gguf_check.py"))
        .arg(out)
        .arg(dir)
        .arg(&e)
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&st.stdout);
    eprintln!("{msg}{}", String::from_utf8_lossy(&st.stderr));
    assert!(st.status.success(), "hf_gguf_check.py failed: {msg}");
}

/// Layer names of the LLaMA folder are eval's (GGUF) names.
const LLAMA_MIXED: &str = r#"{"layers":[
  {"name":"blk.0.attn_q","weights":{"format":"ggml","type":"q4_0"}},
  {"name":"blk.0.attn_k","weights":{"format":"ggml","type":"q8_0"}},
  {"name":"blk.1.attn_k","weights":{"format":"ggml","type":"q4_1"}},
  {"name":"blk.1.attn_q","weights":{"format":"ggml","type":"q8_0"}},
  {"name":"blk.0.ffn_down","weights":{"format":"float","bits":16}},
  {"name":"blk.1.ffn_up","weights":{"format":"ggml","type":"q4_0"}},
  {"name":"token_embd","weights":{"format":"ggml","type":"q8_0"}},
  {"name":"output","weights":{"format":"ggml","type":"q4_0"}}]}"#;

fn perplexity(stdout: &str) -> (f64, f64) {
    let l = stdout
        .lines()
        .find(|l| l.starts_with("perplexity:"))
        .expect("perplexity line");
    let mut w = l.split([' ', ')']).filter(|s| !s.is_empty());
    let q = w.nth(1).unwrap().parse().unwrap();
    let r = w.nth(1).unwrap().parse().unwrap();
    (q, r)
}

/// `evoquant apply MODEL --config CONFIG --out OUT` (more flags may follow).
fn apply(model: &Path, config: impl Into<std::ffi::OsString>, out: &Path) -> Cmd {
    evoquant()
        .arg("apply")
        .arg(model)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out)
}

fn eval(model: &Path, config: Option<&Path>, texts: &Path, dump: &Path) -> String {
    let mut c = evoquant()
        .arg("eval")
        .arg(model)
        .arg("--text")
        .arg(texts)
        .args(["--jobs", "2", "--dump-outputs"])
        .arg(dump);
    if let Some(cfg) = config {
        c = c.arg("--config").arg(cfg);
    }
    let o = c.run();
    o.success();
    o.stdout.clone()
}

#[test]
fn llama_folder_to_gguf_matches_the_converter_and_evaluates_like_the_folder() {
    let tmp = TempDir::new("apply-hf-llama");
    let dir = tmp.join("tiny-llama");
    write_llama_folder(&dir);
    let cfg = tmp.write("quant_config.json", LLAMA_MIXED);
    let out = tmp.join("tiny.gguf");
    apply(&dir, &cfg, &out)
        .args(["--format", "gguf"])
        .run()
        .success()
        .stdout_has("8 configured tensors");
    let g = Gguf::open(&out).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.str("general.architecture").unwrap(), "llama");
    assert_eq!(g.str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(g.str("tokenizer.ggml.pre").unwrap(), "gpt2");
    assert_eq!(g.usize("tokenizer.ggml.bos_token_id").unwrap(), 0);
    assert_eq!(g.bool("tokenizer.ggml.add_bos_token").unwrap(), Some(true));
    let tokens = g.strings("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), vocab().len() + EXTRA_IDS);
    assert_eq!(tokens[vocab().len()], format!("[PAD{}]", vocab().len()));
    let configured: std::collections::HashMap<&str, &str> = [
        ("blk.0.attn_q.weight", "Q4_0"),
        ("blk.0.attn_k.weight", "Q8_0"),
        ("blk.1.attn_k.weight", "Q4_1"),
        ("blk.1.attn_q.weight", "Q8_0"),
        ("blk.0.ffn_down.weight", "F16"),
        ("blk.1.ffn_up.weight", "Q4_0"),
        ("token_embd.weight", "Q8_0"),
        ("output.weight", "Q4_0"),
    ]
    .into();
    let (_, _, _, nh, nkv) = DIMS;
    let expect: Expect = llama_tensors()
        .into_iter()
        .map(|(hf, _)| {
            let gg = llama_gguf_name(&hf);
            let kind = configured.get(gg.as_str()).copied().unwrap_or("F32");
            let heads = if gg.ends_with("attn_q.weight") {
                nh
            } else if gg.ends_with("attn_k.weight") {
                nkv
            } else {
                0
            };
            (gg, kind.to_string(), hf, heads)
        })
        .collect();
    // The safetensors file's order (its serializer sorts), renamed.
    let src = evoquant::apply::Source::open(dir.to_str().unwrap()).unwrap();
    let names: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).collect();
    let want: Vec<String> = src
        .tensors()
        .iter()
        .map(|(hf, _)| llama_gguf_name(hf))
        .collect();
    assert_eq!(names, want, "tensor names and order");
    for (name, kind, _, _) in &expect {
        assert_eq!(g.tensor(name).unwrap().kind.name(), kind, "{name}");
    }
    // The GGUF evaluates like the folder under the configuration: same token
    // ids, the same perplexity up to the f32 rounding of the two RoPE layouts.
    let texts = tmp.write(
        "texts.txt",
        "the cat sat on the mat.\nan ant ate the bread, then the water.\nhe sat at the inn.\n",
    );
    let a = eval(&dir, Some(&cfg), &texts, &tmp.join("cfg"));
    let b = eval(&out, None, &texts, &tmp.join("file"));
    assert_eq!(
        std::fs::read(tmp.join("cfg/tokens.json")).unwrap(),
        std::fs::read(tmp.join("file/tokens.json")).unwrap()
    );
    let ((qa, ra), (qb, rb)) = (perplexity(&a), perplexity(&b));
    assert!(qa != ra, "the configuration changes the model");
    assert_eq!(qb, rb);
    assert!(
        (qa - qb).abs() <= 1e-4 * qa,
        "folder+config {qa}, file {qb}"
    );
    if python_gguf() {
        reference_check(&out, &dir, &expect, &tmp);
    }
    // llama-quantize runs on the converted file: its tensor names.
    let sh = tmp.join("q.sh");
    apply(&dir, &cfg, &sh).run().success();
    let s = std::fs::read_to_string(&sh).unwrap();
    assert!(
        s.contains(r"--tensor-type '^blk\.0\.attn_q\.weight$=q4_0'"),
        "{s}"
    );
}

fn minilm() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "models/all-MiniLM-L6-v2 is missing under CI=true: run scripts/fetch-models.sh"
    );
    eprintln!("skipped: models/all-MiniLM-L6-v2 absent (run scripts/fetch-models.sh)");
    None
}

/// Four MiniLM block layers at Q4_0, Q8_0, Q4_1 and F16 (eval's names).
const MINILM_MIXED: &str = r#"
          {"name":"encoder.layer.0.attention.self.query","weights":{"format":"ggml","type":"q4_0"}},
          {"name":"encoder.layer.0.intermediate.dense","weights":{"format":"ggml","type":"q8_0"}},
          {"name":"encoder.layer.5.output.dense","weights":{"format":"ggml","type":"q4_1"}},
          {"name":"encoder.layer.3.attention.output.dense","weights":{"format":"float","bits":16}}"#;

/// convert_hf_to_gguf.py's BertModel name of a MiniLM tensor (`None`: dropped).
fn bert_gguf_name(hf: &str) -> Option<String> {
    let (stem, suffix) = hf.rsplit_once('.')?;
    let name = match stem {
        "embeddings.word_embeddings" => "token_embd".to_string(),
        "embeddings.position_embeddings" => "position_embd".into(),
        "embeddings.token_type_embeddings" => "token_types".into(),
        "embeddings.LayerNorm" => "token_embd_norm".into(),
        s if s.starts_with("encoder.layer.") => {
            let (i, rest) = s["encoder.layer.".len()..].split_once('.').unwrap();
            let role = match rest {
                "attention.self.query" => "attn_q",
                "attention.self.key" => "attn_k",
                "attention.self.value" => "attn_v",
                "attention.output.dense" => "attn_output",
                "attention.output.LayerNorm" => "attn_output_norm",
                "intermediate.dense" => "ffn_up",
                "output.dense" => "ffn_down",
                "output.LayerNorm" => "layer_output_norm",
                other => panic!("{other}"),
            };
            format!("blk.{i}.{role}")
        }
        _ => return None, // pooler, position_ids
    };
    Some(format!("{name}.{suffix}"))
}

#[test]
fn minilm_folder_to_gguf_matches_the_converter() {
    let Some(dir) = minilm() else { return };
    let tmp = TempDir::new("apply-hf-minilm");
    // BERT layers keep eval's Hugging Face names; the file has GGUF names.
    let cfg = tmp.write(
        "quant_config.json",
        &format!(
            r#"{{"layers":[{MINILM_MIXED},
              {{"name":"embeddings.word_embeddings","weights":{{"format":"ggml","type":"q8_0"}}}}]}}"#
        ),
    );
    let out = tmp.join("minilm.gguf");
    apply(&dir, &cfg, &out)
        .args(["--format", "gguf"])
        .run()
        .success()
        .stdout_has("5 configured tensors");
    let g = Gguf::open(&out).unwrap();
    assert_eq!(g.str("general.architecture").unwrap(), "bert");
    assert_eq!(g.str("tokenizer.ggml.model").unwrap(), "bert");
    assert_eq!(g.usize("bert.pooling_type").unwrap(), 1);
    assert_eq!(g.bool("bert.attention.causal").unwrap(), Some(false));
    for (k, v) in [
        ("tokenizer.ggml.bos_token_id", 101),
        ("tokenizer.ggml.eos_token_id", 102),
        ("tokenizer.ggml.unknown_token_id", 100),
        ("tokenizer.ggml.seperator_token_id", 102),
        ("tokenizer.ggml.padding_token_id", 0),
        ("tokenizer.ggml.mask_token_id", 103),
    ] {
        assert_eq!(g.usize(k).unwrap(), v, "{k}");
    }
    let tokens = g.strings("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 30522);
    assert_eq!(tokens[101], "[CLS]");
    assert_eq!(tokens[2003], "\u{2581}is");
    let configured: std::collections::HashMap<&str, &str> = [
        ("blk.0.attn_q.weight", "Q4_0"),
        ("blk.0.ffn_up.weight", "Q8_0"),
        ("blk.5.ffn_down.weight", "Q4_1"),
        ("blk.3.attn_output.weight", "F16"),
        ("token_embd.weight", "Q8_0"),
    ]
    .into();
    let src = evoquant::apply::Source::open(dir.to_str().unwrap()).unwrap();
    let expect: Expect = src
        .tensors()
        .into_iter()
        .filter_map(|(hf, _)| {
            let gg = bert_gguf_name(&hf)?;
            let kind = configured.get(gg.as_str()).copied().unwrap_or("F32");
            Some((gg, kind.to_string(), hf, 0))
        })
        .collect();
    assert_eq!(
        expect.len(),
        5 + 6 * 16,
        "embeddings + 16 tensors per layer"
    );
    let names: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).collect();
    let want: Vec<&str> = expect.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, want);
    if python_gguf() {
        reference_check(&out, &dir, &expect, &tmp);
    }
    // A uniform shorthand covers the 36 block matrices, as for eval.
    evoquant()
        .arg("apply")
        .arg(&dir)
        .args(["--config", "q8_0", "--format", "gguf", "--out"])
        .arg(tmp.join("q8.gguf"))
        .run()
        .success()
        .stdout_has("36 configured tensors (36 Q8_0)");
    // The pooler is a layer of the folder, but the converter drops it.
    let pooler = tmp.write(
        "pooler.json",
        r#"{"layers":[{"name":"pooler.dense","weights":{"format":"ggml","type":"q8_0"}}]}"#,
    );
    evoquant()
        .arg("apply")
        .arg(&dir)
        .arg("--config")
        .arg(&pooler)
        .args(["--format", "gguf", "--out"])
        .arg(tmp.join("p.gguf"))
        .run()
        .code(2)
        .stderr_has("layer `pooler.dense`")
        .no_panic();
    assert!(!tmp.join("p.gguf").exists());
}

/// `eval` on the GGUF that `apply` wrote from a BERT folder computes what
/// `eval` computes on the folder under the configuration: the same token
/// ids (the WordPiece tokenizer rebuilt from `tokenizer.ggml.*`) and the
/// same sentence embeddings bit for bit (weights decoded from their ggml
/// blocks equal the fake-quantized ones).
#[test]
fn minilm_gguf_evaluates_like_the_folder_under_its_configuration() {
    let Some(dir) = minilm() else { return };
    let tmp = TempDir::new("apply-hf-minilm-eval");
    let cfg = tmp.write(
        "quant_config.json",
        &format!(r#"{{"layers":[{MINILM_MIXED}]}}"#),
    );
    let out = tmp.join("minilm.gguf");
    apply(&dir, &cfg, &out).run().success();
    // Accents, capitals, punctuation, a word split into pieces, a number.
    let texts = tmp.write(
        "texts.txt",
        "The café's Übersetzung was UNBELIEVABLY good!\nquantization-aware training, 2024 edition.\nA cat sat on the mat.\n",
    );
    let a = eval(&dir, Some(&cfg), &texts, &tmp.join("cfg"));
    let b = eval(&out, None, &texts, &tmp.join("file"));
    eval(&dir, None, &texts, &tmp.join("ref"));
    let read = |d: &str, f: &str| std::fs::read(tmp.join(d).join(f)).unwrap();
    assert_eq!(read("cfg", "tokens.json"), read("file", "tokens.json"));
    assert_eq!(read("ref", "tokens.json"), read("file", "tokens.json"));
    assert_eq!(read("cfg", "outputs.npy"), read("file", "outputs.npy"));
    assert_ne!(read("ref", "outputs.npy"), read("file", "outputs.npy"));
    assert!(
        a.contains("BERT encoder") && b.contains("BERT encoder"),
        "{b}"
    );
    // The file names its layers as the folder does: the configuration
    // applies to it too (weights already on their grid stay there).
    let c = eval(&out, Some(&cfg), &texts, &tmp.join("again"));
    assert!(c.contains("cosine to reference"), "{c}");
    apply(&out, &cfg, &tmp.join("again.gguf"))
        .run()
        .success()
        .stdout_has("4 configured tensors");
}

#[test]
fn hf_folder_mistakes_exit_2_naming_the_file_key_or_layer() {
    let tmp = TempDir::new("apply-hf-bad");
    let base = tmp.join("base");
    write_llama_folder(&base);
    let copy = |name: &str, edit: &dyn Fn(&Path)| -> PathBuf {
        let d = tmp.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::copy(base.join(f), d.join(f)).unwrap();
        }
        edit(&d);
        d
    };
    let edit_json = |p: PathBuf, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, v.to_string()).unwrap();
    };
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (
            copy("gpt2", &|d| {
                edit_json(d.join("config.json"), &|v| {
                    v["model_type"] = "gpt2".into();
                    v["architectures"] = serde_json::json!(["GPT2LMHeadModel"]);
                })
            }),
            "q8_0",
            "config.json: model_type `gpt2`: GGUF output from a Hugging Face folder supports bert and llama",
        ),
        (
            copy("nokey", &|d| {
                edit_json(d.join("config.json"), &|v| {
                    v.as_object_mut().unwrap().remove("max_position_embeddings");
                })
            }),
            "q8_0",
            "config.json: `max_position_embeddings` missing",
        ),
        (
            copy("notok", &|d| {
                std::fs::remove_file(d.join("tokenizer.json")).unwrap()
            }),
            "q8_0",
            "tokenizer.json: missing",
        ),
        (
            copy("unigram", &|d| {
                edit_json(d.join("tokenizer.json"), &|v| {
                    v["model"]["type"] = "Unigram".into()
                })
            }),
            "q8_0",
            "tokenizer.json: `model.type`: `Unigram` is not supported",
        ),
        (
            base.clone(),
            "HF_NAME",
            "`model.layers.0.self_attn.q_proj`: not a weight matrix",
        ),
    ];
    let hf_name = tmp.write(
        "hf-name.json",
        r#"{"layers":[{"name":"model.layers.0.self_attn.q_proj","weights":{"format":"ggml","type":"q8_0"}}]}"#,
    );
    for (i, (dir, cfg, want)) in cases.iter().enumerate() {
        let cfg = if *cfg == "HF_NAME" {
            hf_name.display().to_string()
        } else {
            cfg.to_string()
        };
        let out = tmp.join(&format!("out{i}.gguf"));
        evoquant()
            .arg("apply")
            .arg(dir)
            .args(["--config", &cfg, "--format", "gguf", "--out"])
            .arg(&out)
            .run()
            .code(2)
            .stderr_has(want)
            .no_panic();
        assert!(!out.exists(), "case {i}: {} written", out.display());
    }
    // The same folders still give safetensors (no GGUF metadata needed).
    evoquant()
        .arg("apply")
        .arg(tmp.join("gpt2"))
        .args(["--config", "q8_0", "--out"])
        .arg(tmp.join("m.safetensors"))
        .run()
        .success();
}
