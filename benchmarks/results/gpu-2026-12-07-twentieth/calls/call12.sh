#!/usr/bin/env bash
# Twentieth session, call 12: ConvIm2colGemmGpuTest with an asymmetrically padded strided convolution (the im2col tactic
# takes any pads; cuDNN's fused call only symmetric ones, so that case runs the im2col engine alone).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.ConvIm2colGemmGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"; rm -rf "$out/junit"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-400 | head -8
grep -E '^RESULT' "$out/tests.log" | grep -E "pads|FAIL" | cut -d'|' -f2,4,5,8 | head -10
echo "checks: $(grep -c '|ok$' "$out/tests.log") ok, $(grep -c 'FAIL' "$out/tests.log") failed"
