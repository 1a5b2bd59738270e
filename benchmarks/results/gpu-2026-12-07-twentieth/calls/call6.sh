#!/usr/bin/env bash
# Twentieth session, call 6 (issue 9): would ResNet-50's 3x3 convolutions at small batch run faster as an FP16 GEMM over
# an im2col matrix than as cuDNN's best? Int8ConvBench at batch 1 and 32 (its new last column), and ResNet-50 b1 FP16's
# per-layer times as the engine builds it now.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for b in 1 32; do
  timeout 120 "${java[@]}" org.tessel.runtime.gpu.bench.Int8ConvBench $b > "$out/convbench-b$b.txt" 2>&1
  echo "Int8ConvBench $b exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^\|" "$out/convbench-b$b.txt" | awk -F'|' '{print $2 "|" $3 "|" $8 "|" $10}'
done
eng="$out/r50.tessel"
timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --fp16 --save-engine "$eng" > "$out/r50-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 200 --warmup 20 --layer-info "$out/r50-layers.json" > "$out/r50-run.txt" 2>&1
rm -f "$eng"; grep -oE 'p50_ms=[0-9.]+' "$out/r50-run.txt"
echo "call total $(( $(date +%s) - t0 )) s"
