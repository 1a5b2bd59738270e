#!/usr/bin/env bash
# the staged weight-only GEMV at 4 rows a warp: the fused GEMV tests on the GPU, then llama-1b INT4 decode
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
timeout 60 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest --include-tag=gpu \
    --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"; grep -E '✘' "$out/tests.log" | cut -c1-200 | head -5
timeout 100 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --weights int4:128 --warmup 2 --profile 4 > "$out/llm-int4.txt" 2>&1
echo "int4 exit $? after $(( $(date +%s) - t0 )) s"; grep -E "decode: |decode step on|programmatic|host time|^LLM|tactic tessel.gemv.weight_only|^  layer" "$out/llm-int4.txt" | cut -c1-250
