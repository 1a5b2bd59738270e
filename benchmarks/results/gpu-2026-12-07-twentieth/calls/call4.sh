#!/usr/bin/env bash
# Twentieth session, call 4: tessel.conv.depthwise_nhwc's 8-channel threads. The depthwise GPU test against the reference,
# EfficientNet-B0's FP16 joint engine (per-layer times, `tessel compare` against the reference interpreter), MobileNetV2
# b1 FP16, then the families stage for EfficientNet-B0 alone: PyTorch eager and compiled at batch 1 and 32, ONNX Runtime's
# outputs, Tessel CPU / GPU FP32 / GPU FP16 engines of the export against them, and the zoo's EfficientNet-B0 joint plan.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-method=org.tessel.runtime.gpu.kernels.TesselKernelsGpuTest#depthwiseConvolutionMatchesTheReference \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"; grep -E '^RESULT' "$out/tests.log" | cut -d'|' -f2,5,8 | head -8
s=$(date +%s); eng="$out/effnet.tessel"
timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:efficientnet-b0 --strategy joint --fp16 --precision '*=fp16' --save-engine "$eng" > "$out/effnet-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 --layer-info "$out/effnet-layers.json" > "$out/effnet-run.txt" 2>&1
timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:efficientnet-b0 --rtol 1e-2 --atol 1e-2 > "$out/effnet-compare.txt" 2>&1
rm -f "$eng"
echo "efficientnet-b0 after $(( $(date +%s) - s )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/effnet-build.txt" | head -1) $(grep -oE 'p50_ms=[0-9.]+' "$out/effnet-run.txt")"
grep -E "engine vs reference" "$out/effnet-compare.txt" | head -1 | cut -c1-200; tail -1 "$out/effnet-compare.txt" | cut -c1-200
grep -A6 "slowest layers" "$out/effnet-run.txt"
s=$(date +%s); eng="$out/mbv2.tessel"
timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:mobilenetv2 --fp16 --save-engine "$eng" > "$out/mbv2-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 > "$out/mbv2-run.txt" 2>&1
rm -f "$eng"
echo "mobilenetv2 b1 fp16 after $(( $(date +%s) - s )) s: $(grep -oE 'p50_ms=[0-9.]+' "$out/mbv2-run.txt")"
STAGES=families FAMILY_MODELS=efficientnet_b0 FAMILY_ZOO=efficientnet-b0 FAMILY_COMPILE_BUDGET=100 OUT="$out/bench" timeout $(( 560 - ($(date +%s) - t0) )) bash "$here/bench.sh" > "$out/families.txt" 2>&1
echo "families exit $?"; rm -rf "$out/bench/families" "$out/bench/junit"; grep -E "^\||FAMILY" "$out/families.txt" | cut -c1-400
echo "call total $(( $(date +%s) - t0 )) s"
