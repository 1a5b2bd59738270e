#!/usr/bin/env bash
# Twentieth session, call 9 (issue 14): llama-1b FP16 b1 (prompt 128, 128 new tokens) and the transformers peer in the
# same call: LlmDecodeBench, then llm_peer.py with torch.compile mode "default" (reduce-overhead crashed the process on
# this machine in the seventeenth session), then eager if that fails.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 > "$out/llm-fp16.txt" 2>&1
echo "LlmDecodeBench fp16 exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^LLM|on the device" "$out/llm-fp16.txt" | cut -c1-300
for mode in default none; do
  grep -q '^PEER-LLM|.*|[0-9.]*|[0-9.]*$' "$out/llm-peer.txt" 2>/dev/null && break
  left=$(( 420 - ($(date +%s) - t0) )); (( left < 30 )) && break
  s=$(date +%s)
  timeout $left python3 "$here/peers/llm_peer.py" --prompt 128 --new 128 --modes $mode --compile-budget $(( left - 40 > 10 ? left - 40 : 10 )) >> "$out/llm-peer.txt" 2>> "$out/llm-peer.err"
  echo "peer ($mode) exit $? after $(( $(date +%s) - s )) s"
done
cat "$out/llm-peer.txt"; tail -2 "$out/llm-peer.err" | cut -c1-300
echo "call total $(( $(date +%s) - t0 )) s"
