"""NumPy baseline for benches/quant.rs: the chaos-evolve block-wise INT4
quantizer (asymmetric, block 4, f32 scales) vectorized over 16M float32 values,
plus packing two codes per byte. Not run in CI; numpy is optional.

    pip install numpy && python3 benches/quant_numpy.py
    python3 benches/quant_numpy.py --e2e IN.npy OUT   # end to end: np.load, quantize, write

The end-to-end mode is what `evoquant quantize IN.npy --format int --bits 4
--scheme asymmetric_clipped --granularity block --block-size 4 --out OUT` does:
read, quantize, pack, measure the error of the decoded tensor against the
input (MSE, max abs error, SQNR, cosine, in float64 as evoquant does), write.
It prints the best of 5 in-process times, with and without the metrics; for
a whole-process comparison time `python3 benches/quant_numpy.py --e2e-once IN OUT`
beside the evoquant command (`hyperfine` does both).
"""
import time

import numpy as np

N = 1 << 24
BLOCK = 4


def quantize_pack(w):
    b = w.reshape(-1, BLOCK)
    mn = b.min(axis=1, keepdims=True)
    mx = b.max(axis=1, keepdims=True)
    scale = (mx - mn) / np.float32(15)
    # Constant blocks: scale = |value| (or 1 for zero), as evoquant does.
    const = scale == 0
    scale = np.where(const, np.where(np.abs(mx) > 0, np.abs(mx), np.float32(1)), scale)
    zp = np.clip(np.round(-mn / scale) - 8, -8, 7)
    q = np.clip(np.round(b / scale) + zp, -8, 7).astype(np.int8)
    u = (q.reshape(-1) + 8).astype(np.uint8)
    packed = u[0::2] | (u[1::2] << 4)
    return packed, scale.astype(np.float32), zp.astype(np.int8)


def dequantize(packed, scale, zp):
    u = np.empty(packed.size * 2, dtype=np.uint8)
    u[0::2] = packed & 0x0F
    u[1::2] = packed >> 4
    q = u.astype(np.float32).reshape(-1, BLOCK) - 8
    return ((q - zp) * scale).reshape(-1)


def best_of(f, reps=5):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def metrics(w, approx):
    r = w.astype(np.float64)
    a = approx.astype(np.float64)
    d = a - r
    se = float(np.dot(d, d))
    sig = float(np.dot(r, r))
    aa = float(np.dot(a, a))
    mse = se / r.size
    max_abs = float(np.abs(d).max())
    sqnr = 10 * np.log10(sig / se) if se > 0 else float("inf")
    cosine = float(np.dot(r, a)) / (np.sqrt(sig) * np.sqrt(aa))
    return mse, max_abs, sqnr, cosine


def e2e_run(src, dst, with_metrics=True):
    w = np.load(src).reshape(-1)
    packed, scale, zp = quantize_pack(w)
    m = metrics(w, dequantize(packed, scale, zp)) if with_metrics else None
    with open(dst, "wb") as f:
        f.write(packed.tobytes())
        f.write(scale.tobytes())
        f.write(zp.tobytes())
    return m


def e2e(src, dst):
    v = np.__version__
    t = best_of(lambda: e2e_run(src, dst))
    print(f"numpy {v}: end to end (np.load, int4 block4 quantize+pack, metrics, write) {src}: {t * 1e3:.1f} ms")
    t = best_of(lambda: e2e_run(src, dst, with_metrics=False))
    print(f"numpy {v}: the same without the error metrics: {t * 1e3:.1f} ms")


def main():
    import sys
    if len(sys.argv) == 4 and sys.argv[1] == "--e2e":
        return e2e(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "--e2e-once":
        mse, max_abs, sqnr, cosine = e2e_run(sys.argv[2], sys.argv[3])
        print(f"mse {mse:.6e} sqnr {sqnr:.3f} dB max abs {max_abs:.6e} cosine {cosine:.9f}")
        return
    i = np.arange(N, dtype=np.float32)
    w = (np.sin(i * np.float32(0.618034)) * ((np.arange(N) % 97).astype(np.float32) * np.float32(0.01) + np.float32(0.05))).astype(np.float32)
    t_q = best_of(lambda: quantize_pack(w))
    packed, scale, zp = quantize_pack(w)
    t_d = best_of(lambda: dequantize(packed, scale, zp))
    print(f"numpy {np.__version__}: int4 block4 quantize+pack 16M f32: {t_q * 1e3:.1f} ms ({N * 4 / t_q / 1e9:.2f} GB/s)")
    print(f"numpy {np.__version__}: int4 block4 unpack+dequantize 16M: {t_d * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
