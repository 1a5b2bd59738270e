#!/usr/bin/env bash
# issue 14: the trained LM pair (stage lmpair of scripts/gpu-bench.sh): tokenizer + Llama target/draft trained on the stdlib's
# sources with transformers, Tessel's logits and greedy ids against golden.json, speculative decoding on the CPU and GPU runners
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
work=/tmp/lmpair-out; rm -rf "$work"; mkdir -p "$work"
STAGES=lmpair OUT="$work" bash "$here/bench.sh"
# at most 8 files come back: the logs and golden.json
cp "$work/lmpair-train.txt" "$work/lmpair-test.log" "$work/lmpair-spec.txt" "$work/lmpair-spec-gpu.txt" "$out/" 2>/dev/null
cat "$work"/lmpair-onnx*.txt > "$out/lmpair-onnx.txt" 2>/dev/null
cp "$work/lm-pair/golden.json" "$out/" 2>/dev/null
ls -la "$work" "$work/lm-pair" "$work/lm-pair/target" 2>/dev/null | head -30
