#!/usr/bin/env bash
# issues 9/12/14: new GPU tests, LLM decode run ahead of the host (FP16, INT4, peer), profile engine build breakdown
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 200 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.ConvActivationGpuTest --select-class=org.tessel.runtime.gpu.engine.NhwcPlanGpuTest \
  --select-class=org.tessel.runtime.gpu.engine.TileGatherNdGpuTest --select-method=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest#decodeRunAheadOfTheHostGivesTheCpuRunnersTokens \
  --select-class=org.tessel.runtime.gpu.engine.PlanEngineGpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"
grep '^RESULT|' "$out/tests.log" | grep -vE '\|ok$' | cut -c1-220 | head -20
grep -E '✘' "$out/tests.log" | cut -c1-240 | head -12
grep -E 'googlenet-tiny halves .* eager output' "$out/tests.log" | cut -c1-150
timeout 130 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 > "$out/llm-fp16.txt" 2>&1
echo "llm fp16 exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^(decode run ahead|LLM\||HBM bound|decode step on|prefill of|host time)' "$out/llm-fp16.txt" | cut -c1-300
grep -E 'Exception|rror' "$out/llm-fp16.txt" | head -5
timeout 130 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --weights int4:128 > "$out/llm-int4.txt" 2>&1
echo "llm int4 exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^(decode run ahead|LLM\||decode step on)' "$out/llm-int4.txt" | cut -c1-300
grep -E 'Exception|rror' "$out/llm-int4.txt" | head -5
timeout 60 "${java[@]}" org.tessel.experiments.DynamicBatchBench resnet50 1 32 64 > "$out/profiles.txt" 2>&1
echo "profiles exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^(plan|profile|BENCH|TARGET)' "$out/profiles.txt" | cut -c1-400
left=$(( 580 - ($(date +%s) - t0) ))
if (( left > 70 )); then
  timeout $left python3 "$here/peers/llm_peer.py" --prompt 128 --new 128 --modes default --compile-budget $(( left - 40 )) > "$out/llm-peer.txt" 2> "$out/llm-peer.err"
  echo "peer exit $? after $(( $(date +%s) - t0 )) s"
  grep -E '^LLM' "$out/llm-peer.txt"; tail -2 "$out/llm-peer.err" | cut -c1-200
fi
