#!/usr/bin/env bash
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
timeout 170 python3 "$here/peers/llm_peer.py" --prompt 128 --new 128 --modes default --compile-budget 120 > "$out/llm-peer.txt" 2> "$out/llm-peer.err"
echo "peer exit $? after $(( $(date +%s) - t0 )) s"; cat "$out/llm-peer.txt"; grep -E "failed|warm-up" "$out/llm-peer.err" | cut -c1-250
STAGES=int8 OUT=$out timeout 380 bash "$here/bench.sh" > "$out/int8.txt" 2>&1
echo "int8 exit $? after $(( $(date +%s) - t0 )) s"; tail -25 "$out/int8.txt" | cut -c1-300
