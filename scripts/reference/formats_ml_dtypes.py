#!/usr/bin/env python3
"""Reference encodings of the float formats in `evoquant::quant::minifloat`.

Usage: formats_ml_dtypes.py INPUT.f32 OUTDIR

INPUT.f32 holds little-endian f32 values. For each scalar format the codes
`ml_dtypes` gives are written to OUTDIR/<format>.codes (u16 little-endian for
bf16/fp16, one byte otherwise), and every code's decoded f32 bits to
OUTDIR/<format>.decode (u32 little-endian). The 8- and 4-bit formats are
OCP *saturating*: finite values beyond the largest normal (and, for formats
without infinities, ±inf) are clipped to ±max before ml_dtypes converts
them, which is what saturation means; E5M2 keeps ±inf. E2M1 has no NaN, so
NaN inputs are written as 0 there and skipped by the test.

MXFP4 and NVFP4 are not in ml_dtypes; they are built here from their
definitions (OCP MX v1.0; NVIDIA NVFP4) on ml_dtypes' float4_e2m1fn,
float8_e4m3fn and E8M0 arithmetic, over the first multiple of 32 finite
inputs, and written as OUTDIR/mxfp4.bin and OUTDIR/nvfp4.bin in evoquant's
byte layout (scale byte, then codes two per byte, element 2i low nibble;
NVFP4 starts with its f32 tensor scale), plus OUTDIR/blocks.f32 (the input).
"""

import os
import sys

import ml_dtypes
import numpy as np

FORMATS = {
    "bf16": (ml_dtypes.bfloat16, np.uint16, None),
    "fp16": (np.float16, np.uint16, None),
    "fp8_e4m3": (ml_dtypes.float8_e4m3fn, np.uint8, 448.0),
    "fp8_e5m2": (ml_dtypes.float8_e5m2, np.uint8, 57344.0),
    "fp4_e2m1": (ml_dtypes.float4_e2m1fn, np.uint8, 6.0),
}


def encode(x, name):
    dtype, view, sat = FORMATS[name]
    x = x.copy()
    if sat is not None:
        keep_inf = name == "fp8_e5m2"
        finite = np.isfinite(x)
        clip = np.clip(x, np.float32(-sat), np.float32(sat))
        x = np.where(finite | (np.isinf(x) & ~keep_inf), clip, x).astype(np.float32)
        if name == "fp4_e2m1":
            x = np.where(np.isnan(x), np.float32(0), x).astype(np.float32)
    with np.errstate(all="ignore"):
        return x.astype(dtype).view(view)


def decode_table(name):
    dtype, view, _ = FORMATS[name]
    bits = 16 if view == np.uint16 else (4 if name == "fp4_e2m1" else 8)
    codes = np.arange(1 << bits, dtype=view)
    return codes.view(dtype).astype(np.float32).view(np.uint32)


def e2m1(v):
    v = np.clip(v, np.float32(-6), np.float32(6)).astype(np.float32)
    return v.astype(ml_dtypes.float4_e2m1fn).view(np.uint8) & 0xF


def pack(codes):
    codes = codes.astype(np.uint8)
    return (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)


def mxfp4(x):
    out = bytearray()
    for block in x.reshape(-1, 32):
        amax = np.max(np.abs(block))
        if amax == 0:
            e = -127
        else:
            _, ex = np.frexp(amax)  # amax = m · 2^ex, m in [0.5, 1)
            e = int(np.clip(int(ex) - 1 - 2, -127, 127))
        scale = np.float32(np.ldexp(np.float32(1), e))
        out.append(e + 127)
        out += pack(e2m1((block / scale).astype(np.float32))).tobytes()
    return bytes(out)


def nvfp4(x):
    amax = np.max(np.abs(x)).astype(np.float32)
    g = np.float32(amax / np.float32(6.0 * 448.0))
    if not (g > 0 and np.isfinite(g)):
        g = np.float32(1)
    out = bytearray(np.array([g], dtype="<f4").tobytes())
    for block in x.reshape(-1, 16):
        bmax = np.max(np.abs(block)).astype(np.float32)
        s = np.float32(np.float32(bmax / np.float32(6)) / g)
        s = np.clip(s, np.float32(-448), np.float32(448)).astype(np.float32)
        code = np.array([s]).astype(ml_dtypes.float8_e4m3fn)
        out.append(int(code.view(np.uint8)[0]))
        scale = np.float32(code.astype(np.float32)[0] * g)
        if scale == 0:
            codes = np.zeros(16, dtype=np.uint8)
        else:
            codes = e2m1((block / scale).astype(np.float32))
        out += pack(codes).tobytes()
    return bytes(out)


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    x = np.fromfile(src, dtype="<f4")
    for name in FORMATS:
        encode(x, name).astype(FORMATS[name][1]).tofile(os.path.join(outdir, name + ".codes"))
        decode_table(name).astype("<u4").tofile(os.path.join(outdir, name + ".decode"))
    finite = x[np.isfinite(x)]
    finite = finite[np.abs(finite) < np.float32(1e30)]
    blocks = finite[: len(finite) // 32 * 32].astype(np.float32)
    blocks.tofile(os.path.join(outdir, "blocks.f32"))
    with open(os.path.join(outdir, "mxfp4.bin"), "wb") as f:
        f.write(mxfp4(blocks))
    with open(os.path.join(outdir, "nvfp4.bin"), "wb") as f:
        f.write(nvfp4(blocks))


if __name__ == "__main__":
    main()
