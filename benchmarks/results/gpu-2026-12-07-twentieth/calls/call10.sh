#!/usr/bin/env bash
# Twentieth session, call 10: the GPU tests as the review left them (the engine-against-cuDNN check and the depthwise
# check shared by helpers): ConvIm2colGemmGpuTest, Conv1x1GemmGpuTest, Im2colGpuTest, the depthwise kernel test.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 200 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.ConvIm2colGemmGpuTest \
    --select-class=org.tessel.runtime.gpu.engine.Conv1x1GemmGpuTest --select-class=org.tessel.runtime.gpu.kernels.Im2colGpuTest \
    --select-method=org.tessel.runtime.gpu.kernels.TesselKernelsGpuTest#depthwiseConvolutionMatchesTheReference \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"; rm -rf "$out/junit"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -8
grep -E '^RESULT.*timing' "$out/tests.log" | cut -d'|' -f2,4 | head -30
echo "checks: $(grep -c '|ok$' "$out/tests.log") ok, $(grep -c 'FAIL' "$out/tests.log") failed"
