#!/usr/bin/env bash
# issue 14: in-flight vs static batching on the GPU (shared step arena), llama-1b FP16, the issue's mixed workload
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout ${SERVE_S:-320} "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests ${REQ:-256} --seed 1 \
  --prompt-len 32-1024 --output-len 16-512 --kv-blocks 4096 --max-batch 32 --chunk 128 --warmup 0 --repeat 1 > "$out/serve-1b.txt" 2>&1
echo "serve-bench exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^refused' "$out/serve-1b.txt" | tail -9 | cut -c1-260
nvidia-smi --query-gpu=memory.used --format=csv,noheader
