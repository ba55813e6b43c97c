#!/usr/bin/env python3
"""An evoquant `command` trial that uses NumPy: per-channel symmetric
quantization of a random weight matrix drawn from the trial's seed, with a
heavy-tailed (Student t) distribution whose degrees of freedom are swept.
Writes the per-channel errors to `channels.csv` and prints its metrics."""
import json
import os
import sys

import numpy as np

trial = json.load(sys.stdin)
p = trial["params"]
assert os.environ["EVOQUANT_TRIAL_ID"] == trial["trial_id"]
rng = np.random.default_rng(trial["seed"])
w = rng.standard_t(p["dof"], size=(p["rows"], p["cols"])).astype(np.float32)

levels = 2 ** (p["bits"] - 1) - 1
scale = np.abs(w).max(axis=1, keepdims=True) / levels
scale[scale == 0] = 1.0
q = np.clip(np.round(w / scale), -levels, levels) * scale
err = ((w - q) ** 2).mean(axis=1)

with open(os.path.join(os.environ["EVOQUANT_OUTPUT_DIR"], "channels.csv"), "w") as f:
    f.write("channel,mse\n")
    for i, e in enumerate(err):
        f.write(f"{i},{float(e)!r}\n")

signal = float((w.astype(np.float64) ** 2).mean())
mse = float(err.mean())
print(json.dumps({"mse": mse, "sqnr_db": 10 * np.log10(signal / mse)}))
