#!/usr/bin/env bash
# issue 14: in-flight vs static with prefill chunks of 512 tokens (fewer prefill runs beside the decode runs), llama-1b FP16, 256 requests, batch <= 32
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout ${CALL_S:-200} "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
  --prompt-len 32-1024 --output-len 16-512 --kv-blocks 4096 --max-batch 32 --chunk ${CHUNK:-512} --warmup 0 --repeat 1 > "$out/serve-1b-c512.txt" 2>&1
echo "serve-bench chunk ${CHUNK:-512} exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^refused' "$out/serve-1b-c512.txt" | tail -6 | cut -c1-250
