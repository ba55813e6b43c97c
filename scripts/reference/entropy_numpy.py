#!/usr/bin/env python3
"""Entropy (KL) calibration threshold, following NVIDIA pytorch-quantization's
HistogramCalibrator: np.histogram of |x| over [0, max|x|], bin 0 set to bin 1,
candidates i = L .. N (L = 2^(bits-1) levels), bins grouped into levels by
np.digitize over np.linspace(0, i, L + 1), each level's mass spread over its
non-empty bins, KL as scipy.stats.entropy (inf where Q = 0 < P), the last
argmin, threshold = bin edge i. An independent NumPy implementation used to
check `evoquant::quant::calibrate_range(.., Calibration::Entropy, ..)`.

Usage: entropy_numpy.py SAMPLES.f32 BITS NBINS   (prints the threshold's f32 bits)
"""

import sys

import numpy as np


def kl(p, q):
    p = p / p.sum()
    q = q / q.sum()
    mask = p > 0
    if np.any(q[mask] == 0):
        return np.inf
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def threshold(x, bits, nbins):
    a = np.abs(x)
    hist, edges = np.histogram(a, bins=nbins, range=(0, a.max()))
    hist = hist.astype(np.float64)
    hist[0] = hist[1]
    levels = 1 << (bits - 1)
    divergences = []
    candidates = list(range(levels, nbins + 1))
    for i in candidates:
        space = np.linspace(0, i, num=levels + 1)
        digitized = np.digitize(np.arange(i), space) - 1
        digitized[hist[:i] == 0] = -1
        mask = digitized != -1
        mass = np.bincount(digitized[mask], weights=hist[:i][mask], minlength=levels)
        count = np.bincount(digitized[mask], minlength=levels)
        safe = np.where(mask, digitized, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(mask, mass[safe] / np.maximum(count[safe], 1), 0.0)
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()
        divergences.append(kl(p, q) if q.sum() > 0 else np.inf)
    d = np.array(divergences)
    last = len(d) - 1 - int(np.argmin(d[::-1]))
    return np.float32(edges[candidates[last]])


def main():
    x = np.fromfile(sys.argv[1], dtype="<f4")
    t = threshold(x, int(sys.argv[2]), int(sys.argv[3]))
    print(int(np.array([t], dtype=np.float32).view(np.uint32)[0]))


if __name__ == "__main__":
    main()
