#!/usr/bin/env bash
# issue 14: the tensor-core paged prefill (tessel.attention.paged/mma): its kernel test against the host, the GPU decoder
# runner's greedy tokens against the CPU runner with it, then llama-1b b32 prefill + decode, then serve-bench in-flight vs
# static with KV memory binding (1024 blocks, batch <= 64) with the mma prefill, as call 1 ran it with the tiled one.
# Not run in the fifteenth session (no machine came); for the next.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-560} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 110 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.PagedPrefillGpuTest \
  --select-class=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest \
  --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.txt" 2>&1
rc=$?
echo "tests exit $rc after $(( $(date +%s) - t0 )) s"; grep -E "tests (successful|failed)|✘|prefill" "$out/tests.txt" | head -16 | cut -c1-220
grep -A8 "✘" "$out/tests.txt" | grep -vE "^\s+at " | head -24 | cut -c1-260
if grep -q "✘.*TensorCore\|✘ theTensorCore" "$out/tests.txt"; then echo "mma prefill failed its test: no benchmarks"; exit 0; fi
for form in tiled mma; do # the same decode with each prefill form, one call
  timeout 90 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --batch 32 --prompt 512 --new 64 --warmup 2 --prefill-form $form > "$out/llm-b32-$form.txt" 2>&1
  echo "llm b32 prefill $form exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^(LLM\||prefill of)' "$out/llm-b32-$form.txt" | cut -c1-260; grep -E 'Exception|Error' "$out/llm-b32-$form.txt" | head -3 | cut -c1-300
done
sb() { # name kvblocks maxbatch chunk [more serve-bench flags]
  timeout $(( $(left) > 20 ? $(left) : 20 )) "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks $2 --max-batch $3 --chunk $4 --prefill-form mma "${@:5}" --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 (kv $2 blocks, batch <= $3, chunk $4) exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
}
sb kv1024-b64 1024 64 1024
# and with in-flight admission keeping 3% of the blocks free (fewer preemptions and recomputed prompts)
sb kv1024-b64-wm3 1024 64 1024 --kv-watermark 0.03
