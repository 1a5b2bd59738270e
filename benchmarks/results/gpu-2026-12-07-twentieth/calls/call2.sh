#!/usr/bin/env bash
# Twentieth session, call 2: the paged decode attention's V rows prefetched into L2 before its programmatic wait, and
# tessel.pool.global's position slices. GPU tests (paged attention, FP8 KV cache, zoo engines against the reference),
# PagedAttentionBench --sweep (llama-1b's b1 decode attention, every partition size), llama-1b b1 FP16 and INT4,
# EfficientNet-B0's FP16 joint engine: run with per-layer times, and `tessel compare` against the reference interpreter.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.PagedAttentionGpuTest \
    --select-class=org.tessel.runtime.llm.KvCacheFp8GpuTest --select-class=org.tessel.runtime.gpu.engine.ZooEngineGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -6
s=$(date +%s)
timeout 60 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --sweep > "$out/attention-sweep.txt" 2>&1
echo "PagedAttentionBench --sweep exit $? after $(( $(date +%s) - s )) s"; grep -E "^SWEEP|Exception" "$out/attention-sweep.txt" | cut -c1-400
for w in fp16 int4:128; do
  s=$(date +%s)
  extra=(); [[ $w != fp16 ]] && extra=(--weights $w)
  timeout 90 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 "${extra[@]}" --profile 12 > "$out/llm-${w%%:*}.txt" 2>&1
  echo "LlmDecodeBench $w exit $? after $(( $(date +%s) - s )) s"; grep -vE "^\s+at " "$out/llm-${w%%:*}.txt" | grep -E "^LLM|prefill|Exception|on the device|tessel.attention" | head -9 | cut -c1-300
done
s=$(date +%s); eng="$out/effnet.tessel"
timeout 60 "${java[@]}" org.tessel.cli.Tessel build zoo:efficientnet-b0 --strategy joint --fp16 --precision '*=fp16' --save-engine "$eng" > "$out/effnet-build.txt" 2>&1
timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 --layer-info "$out/effnet-layers.json" > "$out/effnet-run.txt" 2>&1
timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:efficientnet-b0 --rtol 1e-2 --atol 1e-2 > "$out/effnet-compare.txt" 2>&1
rm -f "$eng"
echo "efficientnet-b0 after $(( $(date +%s) - s )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/effnet-build.txt" | head -1) $(grep -oE 'p50_ms=[0-9.]+' "$out/effnet-run.txt")"
grep -E "engine vs reference" "$out/effnet-compare.txt" | head -2 | cut -c1-200; tail -1 "$out/effnet-compare.txt" | cut -c1-200
grep -A6 "slowest layers" "$out/effnet-run.txt"
echo "call total $(( $(date +%s) - t0 )) s"
