#!/usr/bin/env bash
# Twentieth session, call 7 (issue 9): cublaslt.conv.im2col. Its GPU test (FP16/BF16 against the reference, timed beside
# cuDNN's fused call), the im2col kernel at 1 and 2 bytes an element, the FP8 convolutions that share the kernel; then
# ResNet-50 FP16 at batch 1 and 32: the rule plan (cuDNN everywhere) against the joint search's plan (the catalogue's
# picks: cublaslt.conv1x1, cublaslt.conv.im2col for layer3/layer4's 3x3 at b1), per-layer times, compare with the reference.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 200 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.ConvIm2colGemmGpuTest \
    --select-class=org.tessel.runtime.gpu.kernels.Im2colGpuTest --select-class=org.tessel.runtime.gpu.engine.Fp8ConvGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"; rm -rf "$out/junit"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -8
grep -E '^RESULT.*(im2col|FAIL)' "$out/tests.log" | grep -E "timing|FAIL|n1 c512" | cut -d'|' -f2,4,8 | head -20
for b in 1 32; do
  for strat in rule joint; do
    s=$(date +%s); eng="$out/r50.tessel"
    extra=(); [[ $strat == joint ]] && extra=(--strategy joint --precision '*=fp16')
    timeout 90 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch $b --fp16 "${extra[@]}" --save-engine "$eng" > "$out/r50-b$b-$strat-build.txt" 2>&1
    timeout 40 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 200 --warmup 20 $( [[ $b == 1 ]] && echo --layer-info "$out/r50-b$b-$strat-layers.json" ) > "$out/run.txt" 2>&1
    p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/run.txt")
    cmp="-"; [[ $strat == joint ]] && { timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:resnet50 --batch $b --rtol 1e-2 --atol 1e-2 > "$out/cmp.txt" 2>&1; cmp=$(grep -E "engine vs reference" "$out/cmp.txt" | head -1 | tr -s ' ' | cut -c1-110)" $(tail -1 "$out/cmp.txt" | cut -c1-40)"; }
    echo "resnet50 b$b fp16 $strat after $(( $(date +%s) - s )) s: $p50 $(grep -oE 'predicted [0-9.]+ ms' "$out/r50-b$b-$strat-build.txt" | head -1) | $cmp"
    grep -E "^tessel|rror" "$out/r50-b$b-$strat-build.txt" | head -2 | cut -c1-250
    rm -f "$eng"
  done
done
rm -f "$out/run.txt" "$out/cmp.txt"
echo "call total $(( $(date +%s) - t0 )) s"
