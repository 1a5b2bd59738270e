#!/usr/bin/env bash
# Nineteenth session, call 1 (issue 14): the weight-only GEMM's dequant form (the eighteenth session's call 4, not run),
# the GEMV prologues by CUDA intrinsics under f16/bf16 and the staged form loading a row at once: QuantizedMatMulGpuTest,
# WeightOnlyGemvFusedGpuTest and GemvGpuTest (fused prologues against the CPU kernels), llama-1b b1 FP16 and INT4 with a
# 128-token prompt, QuantizedGemvBench (its new down_proj prologue table; its prefill table has the dequant form).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 100 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.QuantizedMatMulGpuTest \
    --select-class=org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest --select-class=org.tessel.runtime.gpu.engine.GemvGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit-quant" > "$out/quant-tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/quant-tests.log"
grep -E '✘|=> ' "$out/quant-tests.log" | grep -v '✔' | cut -c1-300 | head -6
grep '^RESULT|tessel.gemm.weight_only/dequant' "$out/quant-tests.log" | sort -t' ' -k6 -n | tail -2
for w in fp16 int4:128; do
  s=$(date +%s)
  extra=(); [[ $w != fp16 ]] && extra=(--weights $w)
  timeout 90 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 "${extra[@]}" --profile 12 > "$out/llm-${w%%:*}.txt" 2>&1
  echo "LlmDecodeBench $w exit $? after $(( $(date +%s) - s )) s"; grep -vE "^\s+at " "$out/llm-${w%%:*}.txt" | grep -E "^LLM|prefill|Exception|on the device" | head -8 | cut -c1-300
  grep -A8 "first decoder layer" "$out/llm-${w%%:*}.txt" | cut -c1-200
done
timeout 100 "${java[@]}" org.tessel.runtime.gpu.bench.QuantizedGemvBench > "$out/quant-bench.txt" 2>&1
echo "QuantizedGemvBench exit $? after $(( $(date +%s) - t0 )) s"; grep -A15 "down_proj 5632x2048, M = 1, f16: the fused" "$out/quant-bench.txt"
grep -E "^\| .*(\| +(128|512) \|)|failed" "$out/quant-bench.txt" | grep -E "cuBLASLt|k64|dequant|failed" | head -40
# EfficientNet-B0's FP16 joint plan: predicted 0.64 ms, measured 2.18 ms last session; per-layer times to see where
# (EFFNET=0 leaves it out: ~70 s less)
if [[ ${EFFNET:-1} != 0 ]]; then
s=$(date +%s); eng="$out/effnet.tessel"
timeout 50 "${java[@]}" org.tessel.cli.Tessel build zoo:efficientnet-b0 --strategy joint --fp16 --precision '*=fp16' --save-engine "$eng" > "$out/effnet-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 --layer-info "$out/effnet-layers.json" > "$out/effnet-run.txt" 2>&1
timeout 15 "${java[@]}" org.tessel.cli.Tessel inspect "$eng" --json > "$out/effnet-inspect.json" 2>&1; rm -f "$eng"
echo "efficientnet-b0 after $(( $(date +%s) - s )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/effnet-build.txt" | head -1) $(grep -oE 'p50_ms=[0-9.]+' "$out/effnet-run.txt")"
fi
echo "call total $(( $(date +%s) - t0 )) s"
