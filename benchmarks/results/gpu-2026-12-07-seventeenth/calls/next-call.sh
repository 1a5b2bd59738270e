#!/usr/bin/env bash
# For the next session (not run in the seventeenth): issue 14 on an H200 if one comes. serve-bench in-flight vs static
# (llama-1b, 256 requests, KV 1024 blocks, batch <= 64, chunks of 1024) with packed steps, now that a bucket's CUDA
# graph capture counts as build time (after the seventeenth's H100 run: in-flight paid 186 us of host time a step
# against static's 59), and --split-steps beside it; then the llm stage (b1 decode, the transformers peer with each
# compile mode in its own process, INT4). Copy to .gpu/ after bundling; OUT=$OUT CALL_S=560 bash .gpu/next-call.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-560} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
sb() { # name [more serve-bench flags]
  timeout 170 "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks 1024 --max-batch 64 --chunk 1024 "${@:2}" --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
}
sb packed
sb split --split-steps
if (( $(left) > 120 )); then
  mkdir -p /tmp/llm-out; STAGES=llm OUT=/tmp/llm-out timeout $(left) bash "$here/bench.sh" > "$out/llm-stage.txt" 2>&1
  echo "llm stage exit $? after $(( $(date +%s) - t0 )) s"; tail -30 "$out/llm-stage.txt" | cut -c1-300
  cp /tmp/llm-out/llm.txt /tmp/llm-out/llm-peer.txt /tmp/llm-out/llm-int4.txt "$out/" 2>/dev/null
fi
# issue 12, a call of its own: the families the sixteenth session's export ran out of time for:
#   mkdir -p /tmp/fam; FAMILY_MODELS=ssdlite320_head,crnn,gpt2 STAGES=families OUT=/tmp/fam timeout 430 bash .gpu/bench.sh > $OUT/stdout.txt 2>&1
