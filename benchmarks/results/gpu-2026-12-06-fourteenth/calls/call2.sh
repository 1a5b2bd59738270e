#!/usr/bin/env bash
# issue 14: the tiled paged prefill kernel and split mixed steps on the GPU (tests), then in-flight vs static batching
# (llama-1b FP16, 256 requests), then the FP16 decode step's profile
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx48g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.PagedPrefillGpuTest \
  --select-class=org.tessel.runtime.llm.GpuDecoderRunnerServingGpuTest --select-class=org.tessel.runtime.llm.PagedAttentionGpuTest \
  --select-class=org.tessel.runtime.llm.KvCacheFp8GpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.txt" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E "tests (successful|failed)|✘|MethodSource" "$out/tests.txt" | head -12 | cut -c1-200
grep -B2 -A6 "✘" "$out/tests.txt" | grep -vE "^\s+at " | head -20 | cut -c1-220
left=$(( ${CALL_S:-470} - ($(date +%s) - t0) - 60 ))
timeout $left "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests ${REQ:-256} --seed 1 \
  --prompt-len 32-1024 --output-len 16-512 --kv-blocks 4096 --max-batch 32 --chunk 128 --warmup 0 --repeat 1 > "$out/serve-1b.txt" 2>&1
echo "serve-bench exit $? after $(( $(date +%s) - t0 )) s (limit $left)"; grep -vE '^refused' "$out/serve-1b.txt" | tail -14 | cut -c1-300
left=$(( ${CALL_S:-470} - ($(date +%s) - t0) ))
(( left > 45 )) && timeout $left "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --profile 12 > "$out/llm-fp16.txt" 2>&1
echo "llm fp16 exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^(LLM\||decode step on)' "$out/llm-fp16.txt" | cut -c1-250; grep -A24 'decode engine profile' "$out/llm-fp16.txt" | cut -c1-170
