#!/usr/bin/env bash
# issue 14: in-flight vs static batching on the GPU, llama-1b FP16, the issue's mixed workload (256 requests, prompts 32-1024, outputs 16-512)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout ${SERVE_S:-500} "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 --prompt-len 32-1024 --output-len 16-512 \
  --kv-blocks 4096 --max-batch 64 --chunk 256 --warmup 0 --repeat 1 > "$out/serve-1b.txt" 2>&1
echo "serve-bench exit $? after $(( $(date +%s) - t0 )) s"
grep -vE '^refused' "$out/serve-1b.txt" | tail -14 | cut -c1-260
