#!/usr/bin/env bash
# Twentieth session, call 13: the project script's families stage for the CRNN alone (its export through the shared
# onnx_tensor.py writer, the CPU/GPU engines against ONNX Runtime, and the new optimization-profile widths check).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
STAGES=families FAMILY_MODELS=crnn FAMILY_ZOO=crnn FAMILY_COMPILE_BUDGET=15 OUT=/tmp/bench-out timeout 230 bash "$here/bench.sh" > "$out/families.txt" 2>&1
echo "families exit $?"; grep -E "^\||FAMILY|export exit|^--" "$out/families.txt" | cut -c1-300
