#!/usr/bin/env bash
# issue 11 on the GPU: the GridSample plugin's kernel and engines (tests), then the example model through the CLI with --plugins
# (the plugin jar off the classpath); issue 10: ResNet-50 INT8 pinned (dp4a now priced below cuDNN's f32-out INT8) and free
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.examples.gridsample.GridSampleKernelGpuTest \
    --select-class=org.tessel.examples.gridsample.GridSampleEngineGpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/gs-tests.log" 2>&1
echo "gridsample tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/gs-tests.log"
grep -E '✘|=> ' "$out/gs-tests.log" | grep -v '✔' | cut -c1-300 | head -8
grep -E '^RESULT' "$out/gs-tests.log" | cut -c1-700 | head -8
timeout 40 "${java[@]}" org.tessel.runtime.gpu.bench.Int8ConvBench 256 > "$out/int8conv.txt" 2>&1
echo "int8conv exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^\|" "$out/int8conv.txt" | cut -c1-500
jar=$(ls "$here"/lib/tessel-example-gridsample-*.jar)
cp=$(ls "$here"/lib/*.jar | grep -v -e tessel-example-gridsample -e tessel-examples-gpu-tests | tr '\n' ':')
cli=("$here/java" -Xss8m -cp "$cp" org.tessel.cli.Tessel)
st=$here/fixtures/spatial-transformer.onnx
timeout 60 "${cli[@]}" build "$st" --strategy joint --plugins "$jar" --save-engine "$out/st.tessel" > "$out/st-build.txt" 2>&1
echo "st build exit $?"; grep -E '^(backend|engine):' "$out/st-build.txt" | cut -c1-250; grep -E 'rror|xception' "$out/st-build.txt" | head -3 | cut -c1-300
timeout 40 "${cli[@]}" inspect "$out/st.tessel" --plugins "$jar" > "$out/st-inspect.txt" 2>&1; grep -E 'warp|features|head' "$out/st-inspect.txt" | cut -c1-200
timeout 60 "${cli[@]}" compare "$out/st.tessel" --model "$st" --plugins "$jar" > "$out/st-compare.txt" 2>&1
echo "st compare exit $?"; tail -8 "$out/st-compare.txt" | cut -c1-250
timeout 40 "${cli[@]}" run "$out/st.tessel" --plugins "$jar" --iterations 200 --warmup 20 > "$out/st-run.txt" 2>&1; echo "st run exit $?"; tail -1 "$out/st-run.txt"
timeout 30 "${cli[@]}" run "$out/st.tessel" > "$out/st-run-without.txt" 2>&1; echo "st run without the plugin: exit $? $(head -2 "$out/st-run-without.txt" | cut -c1-250)"
cache=$here/data/int8/resnet50-int8.cache
for cfg in "pinned:--precision Conv=int8 --int8-fallback"; do
    (( $(date +%s) - t0 > ${INT8_AFTER:-200} )) && { echo "resnet50 int8 skipped: out of time"; break; }
    name=${cfg%%:*}; flags=${cfg#*:}
    timeout 90 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch 256 --strategy joint --best --int8 --calib-cache $cache $flags --save-engine "$out/q.tessel" > "$out/q-build-$name.txt" 2>&1
    echo "resnet50 b256 int8 $name build exit $? after $(( $(date +%s) - t0 )) s: $(grep -oE 'precision (mixed \{[^}]*\}|[A-Z0-9]+)' "$out/q-build-$name.txt" | head -1) $(grep -oE 'predicted [0-9.]+ ms' "$out/q-build-$name.txt" | head -1)"
    timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$out/q.tessel" --iterations 50 --warmup 10 --layer-info "$out/q-layers-$name.json" > "$out/q-run-$name.txt" 2>&1
    echo "  run exit $?: $(tail -1 "$out/q-run-$name.txt")"; rm -f "$out/q.tessel"
done
echo "total $(( $(date +%s) - t0 )) s"
