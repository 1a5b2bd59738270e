#!/usr/bin/env bash
# issue 14: paged decode attention prefetching before its PDL wait: kernel tests, llama-1b decode, attention bench (batch 1/8/64)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
timeout 90 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.PagedAttentionGpuTest --select-class=org.tessel.runtime.llm.KvCacheFp8GpuTest \
  --select-method=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest#decodeRunAheadOfTheHostGivesTheCpuRunnersTokens --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"; grep '✘' "$out/tests.log" | cut -c1-200 | head -5
timeout 100 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 > "$out/llm-fp16.txt" 2>&1
echo "llm exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^(decode run ahead|LLM\||decode step on)' "$out/llm-fp16.txt" | cut -c1-330
timeout 60 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --peak-gbs 3350 > "$out/paged.txt" 2>&1; tail -11 "$out/paged.txt"
timeout 30 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --sweep 2>&1 | grep SWEEP
echo "total $(( $(date +%s) - t0 )) s"
