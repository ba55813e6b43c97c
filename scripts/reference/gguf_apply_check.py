#!/usr/bin/env python3
"""Check a GGUF file written by `evoquant apply` with gguf-py, the reference
reader of the llama.cpp project.

    gguf_apply_check.py OUT.gguf SOURCE.gguf EXPECT.json

EXPECT.json maps tensor names to (type, source tensor): {"blk.0.attn_q.weight":
["Q4_0", "blk.0.attn_q.weight"], ...}. For each: the type and shape are as
expected, and the bytes equal gguf-py's own `gguf.quants.quantize` of the
source tensor's float values (dequantized by gguf-py) for Q4_0/Q4_1/Q8_0,
numpy's float16 rounding for F16, the values themselves for F32. Every other
tensor is byte-identical to the source. The metadata keys llama.cpp needs are
present and every tensor's data offset is aligned. Exit 0 when all hold,
1 with the first differences otherwise.
"""
import json
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize


def floats(t):
    return dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)


def main():
    out_path, src_path, expect_path = sys.argv[1:4]
    out = gguf.GGUFReader(out_path)
    src = gguf.GGUFReader(src_path)
    expect = json.load(open(expect_path))
    src_t = {t.name: t for t in src.tensors}
    bad = []
    if out.fields["GGUF.version"].parts[-1][0] != 3:
        bad.append("version is not 3")
    arch = bytes(out.fields["general.architecture"].parts[-1]).decode()
    for k in ["general.architecture", f"{arch}.block_count", f"{arch}.context_length",
              f"{arch}.embedding_length", f"{arch}.feed_forward_length",
              f"{arch}.attention.head_count", "tokenizer.ggml.model", "tokenizer.ggml.tokens"]:
        if k not in out.fields:
            bad.append(f"metadata key {k} missing")
    align = 32
    if "general.alignment" in out.fields:
        align = int(out.fields["general.alignment"].parts[-1][0])
    checked = 0
    for t in out.tensors:
        if t.data_offset % align:
            bad.append(f"{t.name}: data offset {t.data_offset} not aligned to {align}")
        if t.name not in expect:
            s = src_t.get(t.name)
            if s is None or s.tensor_type != t.tensor_type or bytes(s.data) != bytes(t.data):
                bad.append(f"{t.name}: not configured, yet differs from the source")
            continue
        want, frm = expect[t.name]
        s = src_t[frm]
        if t.tensor_type.name != want:
            bad.append(f"{t.name}: type {t.tensor_type.name}, expected {want}")
            continue
        if list(t.shape) != list(s.shape):
            bad.append(f"{t.name}: shape {list(t.shape)}, source {list(s.shape)}")
            continue
        x = floats(s)
        rows = x.reshape(-1, int(s.shape[0]))
        if t.tensor_type in (T.Q4_0, T.Q4_1, T.Q8_0):
            ref = quantize(rows, t.tensor_type).tobytes()
        elif t.tensor_type == T.F16:
            ref = x.astype(np.float16).tobytes()
        elif t.tensor_type == T.F32:
            ref = x.tobytes()
        else:
            bad.append(f"{t.name}: unexpected type {t.tensor_type.name}")
            continue
        got = bytes(t.data)
        if got != ref:
            n = next(i for i in range(min(len(got), len(ref))) if got[i] != ref[i]) \
                if len(got) == len(ref) else -1
            bad.append(f"{t.name}: {want} bytes differ from gguf.quants (first at byte {n}, "
                       f"{len(got)} vs {len(ref)} bytes)")
        checked += 1
    missing = set(expect) - {t.name for t in out.tensors}
    for m in sorted(missing):
        bad.append(f"{m}: expected in the file, absent")
    if bad:
        print("\n".join(bad[:20]))
        sys.exit(1)
    print(f"ok: {len(out.tensors)} tensors, {checked} configured ones equal to gguf-py's encoding")


if __name__ == "__main__":
    main()
