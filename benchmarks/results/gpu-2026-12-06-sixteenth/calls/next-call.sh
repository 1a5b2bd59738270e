#!/usr/bin/env bash
# For the next session (not run in the sixteenth): issue 14 with the plan's own prefill form (the search prices mma and
# tiled apart since 600dcaa) and serve-bench's default --kv-watermark 0.03: llama-1b b32 prefill + decode with no
# --prefill-form (the plan should name tessel.attention.paged/mma and take ~66 ms as call 1's forced mma did), then
# serve-bench in-flight vs static at 1024 blocks with every default, then the llm stage (b1 decode, the transformers peer,
# INT4). Copy to .gpu/ after bundling; OUT=$OUT CALL_S=560 bash .gpu/next-call.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-560} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --batch 32 --prompt 512 --new 64 --warmup 2 > "$out/llm-b32.txt" 2>&1
echo "llm b32 (the plan's prefill form) exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^(LLM\||prefill of)|attention.paged' "$out/llm-b32.txt" | head -6 | cut -c1-260
timeout 200 "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 --prompt-len 32-1024 --output-len 16-512 \
  --kv-blocks 1024 --max-batch 64 --chunk 1024 --warmup 0 --repeat 1 > "$out/serve-kv1024-b64.txt" 2>&1
echo "serve-bench kv1024-b64 (defaults) exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-kv1024-b64.txt" | tail -7 | cut -c1-330
mkdir -p /tmp/llm-out; STAGES=llm OUT=/tmp/llm-out timeout $(( $(left) > 30 ? $(left) : 30 )) bash "$here/bench.sh" > "$out/llm-stage.txt" 2>&1
echo "llm stage exit $? after $(( $(date +%s) - t0 )) s"; tail -40 "$out/llm-stage.txt" | cut -c1-300
cp /tmp/llm-out/llm.txt /tmp/llm-out/llm-peer.txt /tmp/llm-out/llm-int4.txt "$out/" 2>/dev/null
# issue 12: the families the sixteenth session's export ran out of time for (its 281 s went to the first four), in a call of their own:
#   mkdir -p /tmp/fam; FAMILY_MODELS=ssdlite320_head,crnn,gpt2 STAGES=families OUT=/tmp/fam timeout 430 bash .gpu/bench.sh > $OUT/stdout.txt 2>&1
