#!/usr/bin/env python3
"""NumPy forward of a LLaMA-family GGUF decoder (SmolLM2-135M) from the token
ids `evoquant eval --dump-outputs` wrote, as an independent reference for the
Rust runtime. Tensors are read and dequantized by the `gguf` Python package
(llama.cpp's own reader, `pip install gguf numpy`), not by our parser. The
forward runs in float64 in the Hugging Face layout: the Q/K rows llama.cpp's
converter permuted are un-permuted and RoPE rotates halves, so the
interleaved-RoPE convention of the Rust runtime is checked too.

usage: llama_numpy.py MODEL.gguf TOKENS_JSON [--compare OUTPUTS.npy] [--max-texts N]
Prints the perplexity of the texts (mean NLL of each next token) and, with
--compare, the largest absolute difference of the last-position logits; exits
1 above the tolerance (--tol, default 1e-2 on logits of magnitude ~10-30).
"""
import argparse, json, sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def field(r, key):
    f = r.fields[key]
    v = f.parts[f.data[0]]
    return v.tobytes().decode() if f.types[0].name == "STRING" else v[0].item()


def load(path):
    r = GGUFReader(path)
    w = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        w[t.name] = a.reshape([int(d) for d in reversed(t.shape)])
    cfg = {
        k: field(r, "llama." + k)
        for k in [
            "block_count", "embedding_length", "attention.head_count",
            "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
            "rope.freq_base",
        ]
    }
    return w, cfg


def unpermute(x, heads):
    # GGUF row 2j + s of a head is HF row s*d/2 + j (inverse of convert's permute).
    out, d = x.shape[0], x.shape[0] // heads
    return x.reshape(heads, d // 2, 2, -1).swapaxes(1, 2).reshape(out, -1)


def rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], -1)


def forward(w, cfg, ids):
    h = cfg["embedding_length"]
    nh, nkv = cfg["attention.head_count"], cfg["attention.head_count_kv"]
    d, eps, base = h // nh, cfg["attention.layer_norm_rms_epsilon"], cfg["rope.freq_base"]
    t = len(ids)
    x = w["token_embd.weight"][ids]
    inv = base ** (-np.arange(0, d, 2) / d)
    ang = np.arange(t)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
    sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for i in range(cfg["block_count"]):
        p = f"blk.{i}."
        xn = rms(x, w[p + "attn_norm.weight"], eps)
        q = (xn @ unpermute(w[p + "attn_q.weight"], nh).T).reshape(t, nh, d)
        k = (xn @ unpermute(w[p + "attn_k.weight"], nkv).T).reshape(t, nkv, d)
        v = (xn @ w[p + "attn_v.weight"].T).reshape(t, nkv, d)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=1)
        v = np.repeat(v, nh // nkv, axis=1)
        s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(d) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = np.einsum("hqk,khd->qhd", s, v).reshape(t, h)
        x = x + ctx @ w[p + "attn_output.weight"].T
        xn = rms(x, w[p + "ffn_norm.weight"], eps)
        g = xn @ w[p + "ffn_gate.weight"].T
        u = xn @ w[p + "ffn_up.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
    x = rms(x, w["output_norm.weight"], eps)
    head = w.get("output.weight", w["token_embd.weight"])
    return x @ head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tokens")
    ap.add_argument("--compare")
    ap.add_argument("--max-texts", type=int)
    ap.add_argument("--tol", type=float, default=1e-2)
    a = ap.parse_args()
    w, cfg = load(a.model)
    texts = json.load(open(a.tokens))[: a.max_texts]
    last, nll, n = [], 0.0, 0
    for ids in texts:
        lg = forward(w, cfg, np.array(ids))
        m = lg.max(-1, keepdims=True)
        lp = lg - m - np.log(np.exp(lg - m).sum(-1, keepdims=True))
        nll -= lp[np.arange(len(ids) - 1), ids[1:]].sum()
        n += len(ids) - 1
        last.append(lg[-1])
    print(f"numpy reference: {len(texts)} texts, {n} positions, perplexity {np.exp(nll / n):.4f}")
    if a.compare:
        ours = np.load(a.compare)[: len(texts)].astype(np.float64)
        ref = np.array(last)
        diff = np.abs(ours - ref).max()
        agree = (ours.argmax(-1) == ref.argmax(-1)).mean()
        print(f"last-position logits: max abs diff {diff:.3e} (|logit| up to {np.abs(ref).max():.1f}), argmax agreement {agree:.3f}")
        if not diff <= a.tol:
            sys.exit(1)


if __name__ == "__main__":
    main()
