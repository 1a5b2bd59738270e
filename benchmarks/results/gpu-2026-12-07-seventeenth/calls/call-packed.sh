#!/usr/bin/env bash
# issue 14: packed steps (a step's decode rows and prompt chunks in one engine run, no padding between rows): the paged
# prefill kernels' packed form against the host, the GPU runner's packed steps against the padded ones and its in-flight
# tokens against the CPU runner's, then serve-bench in-flight vs static (llama-1b, 256 requests, KV 1024 blocks, batch
# <= 64, chunks of 1024) packed (the default) and --split-steps, the same call. OUT=$OUT CALL_S=560 bash .gpu/call-packed.sh (then the llm stage as time allows)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-560} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 120 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.PagedPrefillGpuTest \
  --select-class=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest \
  --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.txt" 2>&1
rc=$?
echo "tests exit $rc after $(( $(date +%s) - t0 )) s"; grep -E "tests (successful|failed)|✘" "$out/tests.txt" | head -16 | cut -c1-220
grep -A8 "✘" "$out/tests.txt" | grep -vE "^\s+at " | head -24 | cut -c1-260
if grep -q "✘" "$out/tests.txt"; then echo "a test failed: packed serve-bench only"; fi
sb() { # name [more serve-bench flags]
  timeout $(( $(left) > 20 ? $(left) : 20 )) "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks 1024 --max-batch 64 --chunk 1024 "${@:2}" --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
  grep -E 'Exception|Error' "$out/serve-$1.txt" | head -3 | cut -c1-300
}
sb packed
sb split --split-steps
# then, as time allows, the llm stage (b1 decode, the transformers peer, INT4)
if (( $(left) > 120 )); then
  mkdir -p /tmp/llm-out; STAGES=llm OUT=/tmp/llm-out timeout $(left) bash "$here/bench.sh" > "$out/llm-stage.txt" 2>&1
  echo "llm stage exit $? after $(( $(date +%s) - t0 )) s"; tail -30 "$out/llm-stage.txt" | cut -c1-300
  cp /tmp/llm-out/llm.txt /tmp/llm-out/llm-peer.txt /tmp/llm-out/llm-int4.txt "$out/" 2>/dev/null
fi
