#!/usr/bin/env python3
"""An evoquant `command` trial in the Python standard library alone.

Fits y = w·x by SGD on noisy data drawn from the trial's seed, then rounds
the learned weight to `bits` bits (symmetric, scale = max|w| of the weights
/ (2^(bits-1) - 1)) and reports the loss before and after quantization.
Reads the trial as JSON on stdin, writes `curve.csv` into the working folder,
reports progress on stderr and prints its metrics as JSON on the last line.
"""
import json
import random
import sys

trial = json.load(sys.stdin)
p = trial["params"]
rng = random.Random(trial["seed"])

true_w = [rng.uniform(-1, 1) for _ in range(p["width"])]
data = []
for _ in range(256):
    x = [rng.gauss(0, 1) for _ in range(p["width"])]
    y = sum(a * b for a, b in zip(true_w, x)) + rng.gauss(0, p["noise"])
    data.append((x, y))


def loss(w):
    return sum((sum(a * b for a, b in zip(w, x)) - y) ** 2 for x, y in data) / len(data)


w = [0.0] * p["width"]
rows = []
for step in range(p["steps"]):
    x, y = data[step % len(data)]
    err = sum(a * b for a, b in zip(w, x)) - y
    w = [wi - p["lr"] * 2 * err * xi for wi, xi in zip(w, x)]
    if step % 10 == 0:
        rows.append((step, loss(w)))
        print(f"progress: step {step}/{p['steps']}", file=sys.stderr)

levels = 2 ** (p["bits"] - 1) - 1
scale = max(abs(v) for v in w) / levels or 1.0
wq = [round(v / scale) * scale for v in w]

with open("curve.csv", "w") as f:
    f.write("step,loss\n")
    for step, l in rows:
        f.write(f"{step},{l!r}\n")

fp32, quant = loss(w), loss(wq)
print(json.dumps({"fp32_loss": fp32, "quantized_loss": quant, "loss_ratio": quant / fp32,
                  "diverged": not fp32 < 1e6}))
