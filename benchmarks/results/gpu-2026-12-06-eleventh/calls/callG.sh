#!/usr/bin/env bash
# final call: device greedy (test + decode bench FP16, INT4), the LLM peer in the same run, and the plugins' measured builds
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
timeout 120 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.llm.GpuDecoderRunnerGpuTest --include-tag=gpu \
    --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "decoder runner tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"; grep -E '✘' "$out/tests.log" | cut -c1-200 | head
for w in fp16 int4:128; do
  s0=$(date +%s); extra=(); [[ $w != fp16 ]] && extra=(--weights $w)
  timeout 150 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 "${extra[@]}" > "$out/llm-${w%%:*}.txt" 2>&1
  echo "$w exit $? after $(( $(date +%s) - s0 )) s"; grep -E "^warm-up|decode: |HBM bound|decode step on|programmatic|host time|^LLM" "$out/llm-${w%%:*}.txt" | cut -c1-330
done
s0=$(date +%s)
timeout 150 python3 "$here/peers/llm_peer.py" --prompt 128 --new 128 --modes default --compile-budget 100 > "$out/llm-peer.txt" 2> "$out/llm-peer.err"
echo "peer exit $? after $(( $(date +%s) - s0 )) s"; cat "$out/llm-peer.txt"; tail -2 "$out/llm-peer.err" | cut -c1-200
cp=$(ls "$here"/lib/*.jar | grep -v -e tessel-example-gridsample -e tessel-examples-gpu-tests | tr '\n' ':')
cli=("$here/java" -Xss8m -cp "$cp" org.tessel.cli.Tessel)
gs=$(ls "$here"/lib/tessel-example-gridsample-*.jar); st=$here/fixtures/spatial-transformer.onnx
timeout 90 "${cli[@]}" build "$st" --plugins "$gs" --strategy joint --fp16 --timing-cache "$out/tc2.txt" --tuning all --save-engine "$out/st.tessel" > "$out/st-build.txt" 2>&1
echo "gridsample measured build exit $?"; grep -E "^measured prices|dropped|^engine:|^tessel" "$out/st-build.txt" | cut -c1-250
timeout 60 "${cli[@]}" cache show "$out/tc2.txt" --plugins "$gs" 2>&1 | grep -iE "gridsample" | head -4 | cut -c1-220
timeout 60 "${cli[@]}" compare "$out/st.tessel" --model "$st" --plugins "$gs" > "$out/st-compare.txt" 2>&1; echo "compare exit $?"; grep -E "^GPU engine|vs (reference|onnxruntime)|PASS|FAIL" "$out/st-compare.txt" | cut -c1-200
timeout 40 "${cli[@]}" run "$out/st.tessel" --plugins "$gs" --iterations 100 --warmup 10 --layer-info "$out/st-layers.json" > /dev/null 2>&1
python3 -c "import json;[print('  ',l['name'],l['tactic'],l['precision'],round(l['time_ms']*1000,1),'us') for l in json.load(open('$out/st-layers.json'))['layers'] if 'warp' in l['name'] or 'Grid' in l.get('op','')]" 2>&1 | head -3
jar=$(ls "$here"/plugins/tessel-example-fast-relu-*.jar); m=$here/fixtures/pool-relu.tir
timeout 60 "${cli[@]}" build "$m" --plugins "$jar" --strategy joint --fp16 --timing-cache "$out/tc3.txt" --tuning all --save-engine "$out/pf.tessel" > "$out/pf-build.txt" 2>&1
echo "fast-relu measured build exit $?"; grep -E "^measured prices|^engine:" "$out/pf-build.txt" | cut -c1-200
timeout 60 "${cli[@]}" cache show "$out/tc3.txt" --plugins "$jar" 2>&1 | grep -iE "relu" | head -4 | cut -c1-220
timeout 40 "${cli[@]}" compare "$out/pf.tessel" --model "$m" --plugins "$jar" --no-onnxruntime > "$out/pf-compare.txt" 2>&1; echo "compare exit $?"; grep -E "^GPU engine|vs reference|PASS|FAIL" "$out/pf-compare.txt" | cut -c1-200
timeout 30 "${cli[@]}" run "$out/pf.tessel" --plugins "$jar" --iterations 100 --warmup 10 --layer-info "$out/pf-layers.json" > /dev/null 2>&1
python3 -c "import json;[print('  ',l['name'],l['tactic'],l['precision'],round(l['time_ms']*1000,1),'us') for l in json.load(open('$out/pf-layers.json'))['layers']]" 2>&1 | head -4
rm -f "$out"/*.tessel; echo "total $(( $(date +%s) - t0 )) s"
