#!/usr/bin/env bash
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
timeout 120 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 > "$out/llm-fp16.txt" 2>&1
echo "fp16 exit $?"; grep -vE "^\s+at |^WARNING" "$out/llm-fp16.txt" | tail -12 | cut -c1-300
