#!/usr/bin/env bash
# issues 9/14: FusedActivationGpuTest (GEMM cases never run), INT4 GEMV's tensor-core form (tests, bench, decode), K-only attention prefetch, LLM decode
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 "${java[@]}" org.tessel.runtime.gpu.bench.QuantizedGemvBench > "$out/gemv-bench.txt" 2>&1
echo "gemv bench exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^\||whole layer|copy" "$out/gemv-bench.txt" | cut -c1-200
timeout 240 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.FusedActivationGpuTest \
  --select-class=org.tessel.runtime.gpu.kernels.WeightOnlyGemvGpuTest --select-class=org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest \
  --select-method=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest#decodeRunAheadOfTheHostGivesTheCpuRunnersTokens \
  --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"
grep -E '✘' "$out/tests.log" | cut -c1-240 | head -12
grep -E '^gemv f16 w4a16' "$out/tests.log" | cut -c1-160 | head -20
for w in fp16 int4:128; do
  timeout 130 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 $([[ $w != fp16 ]] && echo --weights $w) > "$out/llm-${w%%:*}.txt" 2>&1
  echo "llm $w exit $? after $(( $(date +%s) - t0 )) s"
  grep -E '^(decode run ahead|LLM\||HBM bound|decode step on|host time)' "$out/llm-${w%%:*}.txt" | cut -c1-300
  grep -E 'Exception|rror' "$out/llm-${w%%:*}.txt" | head -5
done
timeout 90 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --peak-gbs 3350 > "$out/paged.txt" 2>&1; grep -E "^\| " "$out/paged.txt"
timeout 90 python3 "$here/peers/attention_peer.py" > "$out/paged-peer.txt" 2>&1; grep -E "^PEER-ATTN" "$out/paged-peer.txt"
echo "paged done after $(( $(date +%s) - t0 )) s"
