#!/usr/bin/env bash
# decode kernels' GPU tests after the weight prefetch before the PDL wait, then llama-1b FP16 and INT4 decode (callD)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
sel=""
for c in org.tessel.runtime.gpu.engine.GemvGpuTest org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest org.tessel.runtime.gpu.engine.RopeAttentionGpuTest \
         org.tessel.runtime.llm.GpuDecoderRunnerGpuTest org.tessel.runtime.gpu.engine.QuantizedMatMulGpuTest; do sel="$sel --select-class=$c"; done
timeout 200 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute $sel --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors \
    --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/tests.log"
grep -E '✘' "$out/tests.log" | cut -c1-200 | head -20
grep '^RESULT|' "$out/tests.log" | grep -vE '\|ok$|\|info$' | cut -c1-260 | head -20
bash "$here/callD.sh"
