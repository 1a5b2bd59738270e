#!/usr/bin/env bash
# issue 14: prefill steps replayed as CUDA graphs (test on the GPU), then in-flight vs static at batch <= 32 and <= 64, llama-1b FP16, 256 requests
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx48g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 100 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest \
  --select-class=org.tessel.runtime.llm.GpuDecoderRunnerServingGpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.txt" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E "tests (successful|failed)" "$out/tests.txt"; grep -B2 -A6 "✘" "$out/tests.txt" | grep -vE "^\s+at " | head -16 | cut -c1-220
for mb in 32 64; do
  left=$(( ${CALL_S:-330} - ($(date +%s) - t0) )); (( left < 60 )) && { echo "serve-bench batch $mb: out of time"; continue; }
  timeout $left "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks 4096 --max-batch $mb --chunk 128 --warmup 0 --repeat 1 > "$out/serve-1b-b$mb.txt" 2>&1
  echo "serve-bench batch $mb exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^refused' "$out/serve-1b-b$mb.txt" | tail -6 | cut -c1-250
done
