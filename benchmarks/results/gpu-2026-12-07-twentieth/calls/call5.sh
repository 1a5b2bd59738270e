#!/usr/bin/env bash
# Twentieth session, call 5: the depthwise kernel compiled per filter size (unrolled taps). The depthwise GPU test,
# EfficientNet-B0's FP16 joint engine (per-layer times, compare against the reference), MobileNetV2 b1 FP16 (call 4: 0.234 ms),
# ResNet-50 b1 FP16 with per-layer times (issue 9's 0.28 ms target).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-method=org.tessel.runtime.gpu.kernels.TesselKernelsGpuTest#depthwiseConvolutionMatchesTheReference \
    --select-class=org.tessel.runtime.gpu.engine.FusedActivationGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"; grep -E '^RESULT.*depthwise' "$out/tests.log" | cut -d'|' -f2,5,8 | head -8
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -6
s=$(date +%s); eng="$out/effnet.tessel"
timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:efficientnet-b0 --strategy joint --fp16 --precision '*=fp16' --save-engine "$eng" > "$out/effnet-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 --layer-info "$out/effnet-layers.json" > "$out/effnet-run.txt" 2>&1
timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:efficientnet-b0 --rtol 1e-2 --atol 1e-2 > "$out/effnet-compare.txt" 2>&1
rm -f "$eng"
echo "efficientnet-b0 after $(( $(date +%s) - s )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/effnet-build.txt" | head -1) $(grep -oE 'p50_ms=[0-9.]+' "$out/effnet-run.txt")"
grep -E "engine vs reference" "$out/effnet-compare.txt" | head -1 | cut -c1-200; tail -1 "$out/effnet-compare.txt" | cut -c1-200
grep -A6 "slowest layers" "$out/effnet-run.txt"
for m in mobilenetv2 resnet50; do
  s=$(date +%s); eng="$out/$m.tessel"
  timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:$m --fp16 --save-engine "$eng" > "$out/$m-build.txt" 2>&1
  timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 200 --warmup 20 --layer-info "$out/$m-layers.json" > "$out/$m-run.txt" 2>&1
  rm -f "$eng"
  echo "$m b1 fp16 after $(( $(date +%s) - s )) s: $(grep -oE 'p50_ms=[0-9.]+' "$out/$m-run.txt")"
done
grep -A8 "slowest layers" "$out/resnet50-run.txt"
echo "call total $(( $(date +%s) - t0 )) s"
