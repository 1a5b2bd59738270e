#!/usr/bin/env bash
# decode kernels after the pinned-staging fix and the K split (against the CPU engine), FP16 and INT4 decode, the torch peer
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
timeout 110 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-method=org.tessel.runtime.cuda.CudaDriverGpuTest#pinnedStagingKeepsEveryOffsetApart \
    --select-class=org.tessel.runtime.gpu.engine.GemvGpuTest --select-class=org.tessel.runtime.gpu.engine.RopeAttentionGpuTest --select-class=org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest \
    --select-class=org.tessel.runtime.gpu.kernels.WeightOnlyGemvGpuTest --select-class=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/llm-tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/llm-tests.log"
grep -E '✘|=> ' "$out/llm-tests.log" | grep -v '✔' | cut -c1-300 | head -14
grep -E '^RESULT.*(split|pinned)' "$out/llm-tests.log" | cut -c1-200 | head -12
timeout 120 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --profile 40 > "$out/llm.txt" 2>&1
echo "fp16 exit $? after $(( $(date +%s) - t0 )) s"; grep -v "^  layer" "$out/llm.txt" | grep -vE "^\s+at " | tail -20 | cut -c1-300
timeout 100 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 --weights int4:128 --profile 40 > "$out/llm-int4.txt" 2>&1
echo "int4 exit $? after $(( $(date +%s) - t0 )) s"; grep -v "^  layer" "$out/llm-int4.txt" | grep -vE "^\s+at " | tail -14 | cut -c1-300
left=$(( 330 - ($(date +%s) - t0) )); (( left < 30 )) && left=30
timeout $left python3 "$here/peers/llm_peer.py" --prompt 128 --new 128 --compile-budget $(( left - 45 > 15 ? left - 45 : 15 )) > "$out/llm-peer.txt" 2> "$out/llm-peer.err"
echo "peer exit $? after $(( $(date +%s) - t0 )) s"; cat "$out/llm-peer.txt"; tail -2 "$out/llm-peer.err" | cut -c1-200
