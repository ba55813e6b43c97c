#!/usr/bin/env python3
"""NumPy forward of a BERT sentence encoder (all-MiniLM-L6-v2) from its
safetensors file and the token ids `evoquant eval --dump-outputs` wrote, as an
independent reference for the Rust runtime: mean pooling + L2 normalisation.

usage: minilm_numpy.py MODEL_DIR TOKENS_JSON [--out OUT.npy] [--compare OUTPUTS.npy] [--time]
--compare prints the largest absolute difference and exits 1 above 1e-4.
--time runs the forward over all texts 3 times and prints the best time.
"""
import json, math, struct, sys, time
import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out


def erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def layer_norm(x, g, b, eps):
    x64 = x.astype(np.float64)
    m = x64.mean(-1, keepdims=True)
    v = ((x64 - m) ** 2).mean(-1, keepdims=True)
    return ((x64 - m) / np.sqrt(v + eps)).astype(np.float32) * g + b


def embed(w, cfg, ids):
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps = h // nh, cfg.get("layer_norm_eps", 1e-12)
    t = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t] + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    lin = lambda x, n: x @ w[n + ".weight"].T + w[n + ".bias"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q = lin(x, p + ".attention.self.query").reshape(t, nh, d).transpose(1, 0, 2)
        k = lin(x, p + ".attention.self.key").reshape(t, nh, d).transpose(1, 0, 2)
        v = lin(x, p + ".attention.self.value").reshape(t, nh, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(d))
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(t, h)
        a = layer_norm(lin(ctx, p + ".attention.output.dense") + x, w[p + ".attention.output.LayerNorm.weight"], w[p + ".attention.output.LayerNorm.bias"], eps)
        f = lin(a, p + ".intermediate.dense")
        f = (0.5 * f * (1.0 + erf(f / math.sqrt(2.0)))).astype(np.float32)
        x = layer_norm(lin(f, p + ".output.dense") + a, w[p + ".output.LayerNorm.weight"], w[p + ".output.LayerNorm.bias"], eps)
    e = x.mean(0)
    return e / max(np.linalg.norm(e), 1e-12)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mdir, tokens = argv[0], json.load(open(argv[1]))
    cfg = json.load(open(mdir + "/config.json"))
    w = load_safetensors(mdir + "/model.safetensors")
    run = lambda: np.stack([embed(w, cfg, np.array(ids)) for ids in tokens]).astype(np.float32)
    if "--time" in argv:
        best = min((lambda t0: (run(), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
        n = sum(len(t) for t in tokens)
        print(f"numpy forward: {len(tokens)} texts, {n} tokens, best of 3 {best:.3f} s, {n / best:.0f} tokens/s")
    out = run()
    if "--out" in argv:
        np.save(argv[argv.index("--out") + 1], out)
    if "--compare" in argv:
        ours = np.load(argv[argv.index("--compare") + 1])
        diff = float(np.abs(ours - out).max())
        print(f"max |rust - numpy| = {diff:.3e}")
        return 0 if diff <= 1e-4 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
