#!/usr/bin/env bash
# llama-1b decode, FP16 then weight-only INT4 g128, same run (staged GEMV + programmatic dependent launch)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
nvidia-smi --query-gpu=name --format=csv,noheader
s0=$(date +%s)
timeout 150 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --profile 8 > "$out/llm-fp16.txt" 2>&1
echo "fp16 exit $? after $(( $(date +%s) - s0 )) s"; grep -vE "^\s+at " "$out/llm-fp16.txt" | grep -v "^  layer" | tail -22 | cut -c1-260
s1=$(date +%s)
timeout 170 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --weights int4:128 --profile 8 > "$out/llm-int4.txt" 2>&1
echo "int4 exit $? after $(( $(date +%s) - s1 )) s"; grep -vE "^\s+at " "$out/llm-int4.txt" | tail -30 | cut -c1-260
