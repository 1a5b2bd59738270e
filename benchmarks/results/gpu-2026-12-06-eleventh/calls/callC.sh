#!/usr/bin/env bash
# after the fixes of this session: the plan/tuner/FP8/INT8 tests that failed in call A, the decode kernels with the staged
# weight-only GEMV and programmatic dependent launch, the GEMV bench, and GridSample's measuring build (output shown)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
sel=""
for c in org.tessel.runtime.gpu.engine.PlanEngineGpuTest org.tessel.runtime.gpu.engine.GpuTunerGpuTest org.tessel.runtime.calib.Fp8EngineGpuTest \
         org.tessel.runtime.gpu.kernels.Fp8GemmGpuTest org.tessel.runtime.gpu.kernels.Int8KernelsGpuTest org.tessel.runtime.gpu.kernels.WeightOnlyGemvGpuTest \
         org.tessel.runtime.gpu.engine.WeightOnlyGemvFusedGpuTest org.tessel.runtime.gpu.engine.GemvGpuTest org.tessel.runtime.gpu.engine.RopeAttentionGpuTest \
         org.tessel.runtime.llm.GpuDecoderRunnerGpuTest org.tessel.runtime.llm.PagedAttentionGpuTest org.tessel.runtime.gpu.engine.QuantizedMatMulGpuTest; do sel="$sel --select-class=$c"; done
timeout 300 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute $sel --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors \
    --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/tests.log"
grep -E '✘' "$out/tests.log" | cut -c1-200 | head -20
grep '^RESULT|' "$out/tests.log" | grep -vE '\|ok$|\|info$' | cut -c1-260 | head -30
grep -E '^RESULT\|(tuner|tuned plan)' "$out/tests.log" | cut -d'|' -f2,7 | cut -c1-200
grep -E '^gemv ' "$out/tests.log" | head -30
t1=$(date +%s)
timeout 90 "${java[@]}" org.tessel.runtime.gpu.bench.QuantizedGemvBench > "$out/gemvbench.txt" 2>&1
echo "QuantizedGemvBench exit $? after $(( $(date +%s) - t1 )) s"; tail -26 "$out/gemvbench.txt"
cp=$(ls "$here"/lib/*.jar | grep -v -e tessel-example-gridsample -e tessel-examples-gpu-tests | tr '\n' ':')
gs=$(ls "$here"/lib/tessel-example-gridsample-*.jar); st=$here/fixtures/spatial-transformer.onnx
timeout 90 "$here/java" -Xss8m -cp "$cp" org.tessel.cli.Tessel build "$st" --plugins "$gs" --strategy joint --fp16 --timing-cache "$out/tc2.txt" --tuning all --save-engine "$out/st.tessel" > "$out/st-build.txt" 2>&1
echo "gridsample tuned build exit $?"; tail -12 "$out/st-build.txt" | cut -c1-300
rm -f "$out"/*.tessel; echo "total $(( $(date +%s) - t0 )) s"
