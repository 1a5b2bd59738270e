#!/usr/bin/env bash
# Eighteenth session, call 1: the weight-only GEMM's tensor-core form (tessel.gemm.weight_only/mma) against the CPU
# kernels (QuantizedMatMulGpuTest), then llama-1b b1 FP16 and INT4 (g128) decode with a 128-token prompt (the prompt's
# projections run the GEMM, now planned as mma), then QuantizedGemvBench (decode GEMVs, and the prefill GEMM's forms against cuBLASLt FP16 at 128 and 512 rows),
# then serve-bench in-flight vs static with packed steps (capture now
# counted as build time). Copy to .gpu/next-call.sh after bundling; OUT=$OUT CALL_S=540 bash .gpu/next-call.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-540} - ($(date +%s) - t0) )); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.QuantizedMatMulGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit-quant" > "$out/quant-tests.log" 2>&1
echo "QuantizedMatMulGpuTest exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/quant-tests.log"
grep -E '✘|=> ' "$out/quant-tests.log" | grep -v '✔' | cut -c1-300 | head -6
grep '^RESULT|tessel.gemm.weight_only/mma' "$out/quant-tests.log" | sort -t' ' -k6 -n | tail -3
for w in fp16 int4:128; do
  s=$(date +%s)
  extra=(); [[ $w != fp16 ]] && extra=(--weights $w)
  timeout 120 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 "${extra[@]}" --profile 6 > "$out/llm-${w%%:*}.txt" 2>&1
  echo "LlmDecodeBench $w exit $? after $(( $(date +%s) - s )) s"; grep -vE "^\s+at " "$out/llm-${w%%:*}.txt" | grep -E "^LLM|prefill|tokens/s|HBM|Exception" | head -8 | cut -c1-300
done
timeout 100 "${java[@]}" org.tessel.runtime.gpu.bench.QuantizedGemvBench > "$out/quant-bench.txt" 2>&1
echo "QuantizedGemvBench exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^\| .*(\| +(128|512) \|)|whole layer|failed" "$out/quant-bench.txt" | head -40
sb() { # name [more serve-bench flags]
  timeout 170 "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks 1024 --max-batch 64 --chunk 1024 "${@:2}" --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
}
(( $(left) > 180 )) && sb packed
echo "call total $(( $(date +%s) - t0 )) s"
