#!/usr/bin/env python3
"""A skeleton evaluator worker for evoquant's mixed_precision study.

With `model = "command"` and `evaluator = ["python3", "worker.py"]`, evoquant
starts `parallel_evaluations` copies of this program per trial and speaks the
`evoquant.evaluator/1` protocol with each: one JSON request per line on
stdin, one JSON reply per line on stdout (stdout is for replies only; log to
stderr). The README's "External evaluator" section is the full statement.

  describe  -> {"id", "model", "accuracy_source", "fixed_params", "layers": [...]}
  evaluate  -> {"id", "accuracy": <higher is better>, ...any other metrics}
  failure   -> {"id", "error": "what went wrong"}   (fails the trial)

Replace `load_model`, `quantized_copy` and `measure` with your framework's
(load a PyTorch checkpoint once in `load_model`; in `measure`, run your
evaluation with the configuration applied). Every evaluation must depend only
on the configuration (and the trial seed), never on which worker answers or
in what order, so that results are identical for any `parallel_evaluations`.

This toy stands in for a pretrained model with a seeded random 2-layer ReLU
network and measures top-1 agreement of the quantized network with the FP32
one on 256 seeded inputs. It honours bits, scheme, granularity and group size
of weights and activations; activation ranges are min-max on 64 calibration
inputs for every calibration method (a real worker implements the methods it
supports), which `accuracy_source` says.
"""
import json
import math
import random
import struct
import sys

INPUTS, HIDDEN, CLASSES = 24, 32, 8


def load_model(seed):
    rng = random.Random(seed)
    w0 = [[rng.gauss(0, 1 / math.sqrt(INPUTS)) for _ in range(INPUTS)] for _ in range(HIDDEN)]
    w1 = [[rng.gauss(0, 1 / math.sqrt(HIDDEN)) for _ in range(HIDDEN)] for _ in range(CLASSES)]
    data = [[rng.gauss(0, 1) for _ in range(INPUTS)] for _ in range(256 + 64)]
    return {"weights": [w0, w1], "test": data[:256], "calib": data[256:]}


def describe(model):
    layers = []
    for i, w in enumerate(model["weights"]):
        rows, cols = len(w), len(w[0])
        layers.append({"name": f"fc{i}", "kind": "Linear", "params": rows * cols,
                       "rows": rows, "cols": cols, "macs": rows * cols,
                       "act_in": cols, "act_out": rows})
    return {"model": f"toy ReLU network {INPUTS}-{HIDDEN}-{CLASSES} (examples/evaluator/worker.py)",
            "accuracy_source": "measured: top-1 agreement with the FP32 network on 256 seeded inputs "
                               "(toy worker; min-max activation ranges for every calibration method)",
            "fixed_params": 0, "layers": layers}


def half(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def quantize(values, spec):
    """Fake-quantize a list of floats with one scale (one tensor, row or group)."""
    if spec["format"] == "float":
        return list(values) if spec["bits"] >= 32 else [half(v) for v in values]
    bits, scheme = spec["bits"], spec["scheme"]
    if scheme == "asymmetric":
        lo, hi = min(0.0, min(values)), max(0.0, max(values))
        scale = (hi - lo) / (2 ** bits - 1) or 1.0
        zero = round(-lo / scale)
        return [(min(max(round(v / scale) + zero, 0), 2 ** bits - 1) - zero) * scale for v in values]
    qmax = 2 ** (bits - 1) - 1
    scale = max(abs(v) for v in values) / qmax or 1.0
    if scheme == "power_of_two":
        scale = 2.0 ** math.ceil(math.log2(scale))
    return [min(max(round(v / scale), -qmax), qmax) * scale for v in values]


def quantized_copy(w, spec):
    if spec["format"] == "float" or spec["granularity"] == "per_tensor":
        flat = quantize([v for row in w for v in row], spec)
        cols = len(w[0])
        return [flat[r * cols:(r + 1) * cols] for r in range(len(w))]
    if spec["granularity"] == "per_channel":
        return [quantize(row, spec) for row in w]
    g = spec["group_size"]
    return [sum((quantize(row[i:i + g], spec) for i in range(0, len(row), g)), []) for row in w]


def forward(weights, x, act_specs=None, ranges=None, record=None):
    for i, w in enumerate(weights):
        if record is not None:
            record[i].extend(x)
        if act_specs is not None and act_specs[i]["format"] == "int":
            # One per-tensor range, calibrated: clip to it, then quantize
            # with the scale it gives (lo and hi ride along to set it).
            lo, hi = ranges[i]
            x = quantize([min(max(v, lo), hi) for v in x] + [lo, hi], act_specs[i])[:-2]
        elif act_specs is not None and act_specs[i]["bits"] == 16:
            x = [half(v) for v in x]
        x = [sum(a * b for a, b in zip(row, x)) for row in w]
        if i + 1 < len(weights):
            x = [max(v, 0.0) for v in x]
    return x


def argmax(v):
    return max(range(len(v)), key=v.__getitem__)


def measure(model, config):
    layers = config["layers"]
    weights = [quantized_copy(w, l["weights"]) for w, l in zip(model["weights"], layers)]
    acts = [l["activations"] for l in layers]
    hits = sum(argmax(forward(weights, x, acts, model["ranges"])) == ref
               for x, ref in zip(model["test"], model["reference"]))
    return hits / len(model["test"])


def main():
    model = None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        reply = {"id": request["id"]}
        try:
            if request["request"] == "describe":
                model = load_model(request["seed"])
                seen = [[] for _ in model["weights"]]
                for x in model["calib"]:
                    forward(model["weights"], x, record=seen)
                model["ranges"] = [(min(s), max(s)) for s in seen]
                model["reference"] = [argmax(forward(model["weights"], x)) for x in model["test"]]
                reply.update(describe(model))
            elif request["request"] == "evaluate":
                reply["accuracy"] = measure(model, request["config"])
            else:
                reply["error"] = f"unknown request {request['request']!r}"
        except Exception as e:  # one clear message instead of a dead worker
            reply = {"id": request.get("id", 0), "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
