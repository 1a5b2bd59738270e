#!/usr/bin/env bash
# issue 11: fast-relu's kernel forced (--force) on the GPU against the reference; GridSample's kernel timed by the measuring search
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
cp=$(ls "$here"/lib/*.jar | grep -v -e tessel-example-gridsample -e tessel-examples-gpu-tests | tr '\n' ':')
cli=("$here/java" -Xss8m -cp "$cp" org.tessel.cli.Tessel)
jar=$(ls "$here"/plugins/tessel-example-fast-relu-*.jar); gs=$(ls "$here"/lib/tessel-example-gridsample-*.jar)
m=$here/fixtures/pool-relu.tir; st=$here/fixtures/spatial-transformer.onnx
t0=$(date +%s)
for p in fp16 bf16; do
  timeout 40 "${cli[@]}" build "$m" --plugins "$jar" --strategy joint --$p --precision "*=$p" --force "relu=example.relu.half8" --save-engine "$out/pf.tessel" > "$out/pf-build-$p.txt" 2>&1
  echo "$p forced build exit $?: $(grep -E '^engine:' "$out/pf-build-$p.txt")"
  timeout 40 "${cli[@]}" compare "$out/pf.tessel" --model "$m" --plugins "$jar" --no-onnxruntime > "$out/pf-compare-$p.txt" 2>&1; echo "  compare exit $?: $(grep -E 'engine vs reference' "$out/pf-compare-$p.txt")"
  timeout 30 "${cli[@]}" run "$out/pf.tessel" --plugins "$jar" --iterations 100 --warmup 10 --layer-info "$out/pf-layers-$p.json" > "$out/pf-run-$p.txt" 2>&1
  python3 -c "import json;[print('  ',l['name'],l['tactic'],l['precision'],round(l['time_ms']*1000,1),'us') for l in json.load(open('$out/pf-layers-$p.json'))['layers'] if l['name']=='relu']" 2>&1
  rm -f "$out/pf.tessel"
done
timeout 60 "${cli[@]}" build "$st" --plugins "$gs" --strategy joint --fp16 --timing-cache "$out/tc2.txt" --tuning all --save-engine "$out/st.tessel" > "$out/st-build.txt" 2>&1
echo "gridsample tuned build exit $?: $(grep -E '^measured prices' "$out/st-build.txt" | cut -c1-200)"
timeout 30 "${cli[@]}" cache show "$out/tc2.txt" --plugins "$gs" 2>&1 | grep -E "gridsample|GridSample|cpu.reference" | head -6 | cut -c1-220
timeout 30 "${cli[@]}" compare "$out/st.tessel" --model "$st" --plugins "$gs" > "$out/st-compare.txt" 2>&1; echo "compare exit $?: $(grep -E 'engine vs onnxruntime' "$out/st-compare.txt")"
rm -f "$out"/*.tessel; echo "total $(( $(date +%s) - t0 )) s"
