#!/usr/bin/env python3
"""Check a GGUF file that `evoquant apply` built from a Hugging Face folder,
with gguf-py (the reference reader of the llama.cpp project) and numpy.

    hf_gguf_check.py OUT.gguf HF_DIR EXPECT.json

EXPECT.json maps every tensor the file must hold, and only those, to
[type, Hugging Face tensor, heads]: {"blk.0.attn_q.weight": ["Q8_0",
"model.layers.0.self_attn.q_proj.weight", 4], ...}; heads > 0 means the rows
are permuted per head as convert_hf_to_gguf.py's LlamaModel.permute does
(reshape(heads, 2, rows / heads / 2, cols).swapaxes(1, 2)). Checked:

- general.architecture, and the hyper-parameter keys convert_hf_to_gguf.py
  writes for bert / llama with the values of config.json;
- tokenizer.ggml.tokens holds vocab_size tokens, equal to tokenizer.json's
  vocabulary (WordPiece in llama.cpp's phantom-space spelling for bert),
  token types, merges (llama);
- each tensor's name, type and shape (ggml order: the HF shape reversed);
  its bytes equal gguf-py's `gguf.quants.quantize` of the (permuted) source
  floats for Q4_0 / Q4_1 / Q8_0, numpy's float16 rounding for F16, the
  values themselves for F32; data offsets aligned.

The safetensors file is parsed here (8-byte header length, JSON header,
little-endian data), so only numpy and gguf are needed. Exit 0 when all
hold, 1 with the differences otherwise.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize


def safetensors(path):
    b = Path(path).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        s, e = h["data_offsets"]
        raw = data[s:e]
        if h["dtype"] == "F32":
            x = np.frombuffer(raw, dtype="<f4")
        elif h["dtype"] == "F16":
            x = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif h["dtype"] == "BF16":
            x = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        out[name] = x.reshape(h["shape"])
    return out


def permute(w, heads):
    return (w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def field(r, key):
    f = r.fields.get(key)
    if f is None:
        return None
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode() for i in f.data]
        return [f.parts[i][0].item() for i in f.data]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[-1]).decode()
    return f.parts[-1][0].item()


def main():
    out_path, hf_dir, expect_path = sys.argv[1:4]
    hf_dir = Path(hf_dir)
    r = gguf.GGUFReader(out_path)
    cfg = json.loads((hf_dir / "config.json").read_text())
    tok = json.loads((hf_dir / "tokenizer.json").read_text())
    expect = json.load(open(expect_path))
    bad = []

    arch = field(r, "general.architecture")
    want_arch = "bert" if cfg.get("model_type") == "bert" else "llama"
    if arch != want_arch:
        bad.append(f"general.architecture {arch!r}, expected {want_arch!r}")
    heads = cfg["num_attention_heads"]
    want = {
        f"{arch}.context_length": cfg["max_position_embeddings"],
        f"{arch}.embedding_length": cfg["hidden_size"],
        f"{arch}.block_count": cfg["num_hidden_layers"],
        f"{arch}.feed_forward_length": cfg["intermediate_size"],
        f"{arch}.attention.head_count": heads,
        "general.quantization_version": 2,
    }
    if arch == "llama":
        want.update({
            "llama.attention.head_count_kv": cfg.get("num_key_value_heads", heads),
            "llama.attention.layer_norm_rms_epsilon": np.float32(cfg.get("rms_norm_eps", 1e-6)),
            "llama.rope.freq_base": np.float32(cfg.get("rope_theta", 10000.0)),
            "llama.rope.dimension_count": cfg["hidden_size"] // heads,
            "llama.vocab_size": cfg["vocab_size"],
            "tokenizer.ggml.model": "gpt2",
        })
    else:
        want.update({
            "bert.attention.layer_norm_epsilon": np.float32(cfg.get("layer_norm_eps", 1e-12)),
            "bert.attention.causal": False,
            "tokenizer.ggml.model": "bert",
            "tokenizer.ggml.token_type_count": cfg.get("type_vocab_size", 1),
        })
        if (hf_dir / "1_Pooling" / "config.json").is_file():
            pool = json.loads((hf_dir / "1_Pooling" / "config.json").read_text())
            if pool.get("pooling_mode_mean_tokens"):
                want["bert.pooling_type"] = int(gguf.PoolingType.MEAN)
    for k, v in want.items():
        got = field(r, k)
        if got is None:
            bad.append(f"metadata {k} missing")
        elif (np.float32(got) != v) if isinstance(v, np.floating) else (got != v):
            bad.append(f"metadata {k} = {got!r}, config.json says {v!r}")
    for k in ["general.name", "general.file_type", "tokenizer.ggml.pre",
              "tokenizer.ggml.token_type"]:
        if field(r, k) is None:
            bad.append(f"metadata {k} missing")

    tokens = field(r, "tokenizer.ggml.tokens") or []
    if len(tokens) != cfg["vocab_size"]:
        bad.append(f"{len(tokens)} tokens, vocab_size {cfg['vocab_size']}")
    types = field(r, "tokenizer.ggml.token_type") or []
    if len(types) != len(tokens):
        bad.append(f"{len(types)} token types for {len(tokens)} tokens")
    special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
    for t, i in tok["model"]["vocab"].items():
        if arch == "bert" and i not in special:
            t = t[2:] if t.startswith("##") else "\u2581" + t
        if i >= len(tokens) or tokens[i] != t:
            bad.append(f"token {i}: {tokens[i] if i < len(tokens) else None!r}, expected {t!r}")
            break
    for i in special:
        if i < len(types) and types[i] != int(gguf.TokenType.CONTROL):
            bad.append(f"token {i}: type {types[i]}, expected CONTROL")
    if arch == "llama":
        merges = tok["model"]["merges"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
        if field(r, "tokenizer.ggml.merges") != merges:
            bad.append("tokenizer.ggml.merges differ from tokenizer.json")

    src = safetensors(hf_dir / "model.safetensors")
    align = field(r, "general.alignment") or 32
    seen = set()
    checked = 0
    for t in r.tensors:
        seen.add(t.name)
        if t.data_offset % align:
            bad.append(f"{t.name}: data offset {t.data_offset} not aligned to {align}")
        if t.name not in expect:
            bad.append(f"{t.name}: not expected in the file")
            continue
        want_t, hf, nh = expect[t.name]
        if t.tensor_type.name != want_t:
            bad.append(f"{t.name}: type {t.tensor_type.name}, expected {want_t}")
            continue
        x = src[hf]
        if list(t.shape) != list(reversed(x.shape)):
            bad.append(f"{t.name}: shape {list(t.shape)}, HF {list(x.shape)} reversed")
            continue
        if nh:
            x = permute(x, nh)
        rows = x.reshape(-1, x.shape[-1]).astype(np.float32)
        if t.tensor_type in (T.Q4_0, T.Q4_1, T.Q8_0):
            ref = quantize(rows, t.tensor_type).tobytes()
        elif t.tensor_type == T.F16:
            ref = rows.astype(np.float16).tobytes()
        elif t.tensor_type == T.F32:
            ref = rows.tobytes()
        else:
            bad.append(f"{t.name}: unexpected type {t.tensor_type.name}")
            continue
        got = bytes(t.data)
        if got != ref:
            bad.append(f"{t.name}: {want_t} bytes differ from the reference ({len(got)} vs {len(ref)} bytes)")
        checked += 1
    for m in sorted(set(expect) - seen):
        bad.append(f"{m}: expected in the file, absent")
    if bad:
        print("\n".join(bad[:20]))
        sys.exit(1)
    print(f"ok: {arch}, {len(tokens)} tokens, {checked} tensors equal to the reference encoding")


if __name__ == "__main__":
    main()
