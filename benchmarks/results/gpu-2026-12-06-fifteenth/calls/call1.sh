#!/usr/bin/env bash
# issue 14: llama-1b FP16 decode at batch 32 (per-step time, HBM bound, profile), then serve-bench in-flight vs static with
# each pass's engine runs split by kind (decode / prefill, device wait vs host), at the last session's config and with KV memory binding
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-570} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 120 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --batch 32 --prompt 512 --new 64 --warmup 2 --profile 14 > "$out/llm-b32.txt" 2>&1
echo "llm b32 exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^(LLM\||decode step on|prefill of|HBM|host time|decode steps:)' "$out/llm-b32.txt" | cut -c1-260; grep -A22 'decode engine profile' "$out/llm-b32.txt" | cut -c1-170
grep -E 'Exception|Error' "$out/llm-b32.txt" | head -3 | cut -c1-300
sb() { # name kvblocks maxbatch chunk
  timeout $(( $(left) > 20 ? $(left) : 20 )) "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks $2 --max-batch $3 --chunk $4 --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 (kv $2 blocks, batch <= $3, chunk $4) exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
}
sb kv4096-b32 4096 32 1024
sb kv1024-b64 1024 64 1024
sb kv2048-b64 2048 64 1024
