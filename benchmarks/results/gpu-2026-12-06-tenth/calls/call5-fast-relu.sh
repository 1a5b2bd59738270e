#!/usr/bin/env bash
# issue 11 (b): the fast-relu plugin (a second Relu kernel) loaded with --plugins on the GPU: the measuring tuner times it
# against the built-in tessel.eltwise, the search prices by those timings, and the engine matches the reference
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
cli=("$here/java" -Xss8m -cp "$here/lib/*" org.tessel.cli.Tessel)
jar=$(ls "$here"/plugins/tessel-example-fast-relu-*.jar)
m=$here/fixtures/pool-relu.tir
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
timeout 60 "${cli[@]}" build "$m" --plugins "$jar" --strategy joint --fp16 --precision '*=fp16' --timing-cache "$out/tc.txt" --tuning all --save-engine "$out/pr.tessel" > "$out/pr-build.txt" 2>&1
echo "build exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^\s+at |build: [0-9]+ s$' "$out/pr-build.txt" | tail -6 | cut -c1-300
timeout 30 "${cli[@]}" cache show "$out/tc.txt" > "$out/pr-cache.txt" 2>&1; echo "cache show exit $?"; grep -iE "relu|eltwise|tactic" "$out/pr-cache.txt" | head -12 | cut -c1-250
timeout 30 "${cli[@]}" inspect "$out/pr.tessel" --plugins "$jar" 2>&1 | grep -E "^(pool|relu) " | cut -c1-200
timeout 40 "${cli[@]}" compare "$out/pr.tessel" --model "$m" --plugins "$jar" --no-onnxruntime > "$out/pr-compare.txt" 2>&1; echo "compare exit $?"; tail -3 "$out/pr-compare.txt"
timeout 30 "${cli[@]}" run "$out/pr.tessel" --plugins "$jar" --iterations 200 --warmup 20 --layer-info "$out/pr-layers.json" > "$out/pr-run.txt" 2>&1; echo "run exit $?: $(tail -1 "$out/pr-run.txt")"
python3 -c "import json;[print(l['name'],l['tactic'],l['precision'],round(l['time_ms']*1000,1),'us') for l in json.load(open('$out/pr-layers.json'))['layers']]" 2>&1 | head
timeout 60 "${cli[@]}" build "$m" --plugins "$jar" --strategy joint --fp16 --precision '*=fp16' --force 'relu=tessel.eltwise' --save-engine "$out/pe.tessel" > "$out/pe-build.txt" 2>&1
timeout 30 "${cli[@]}" run "$out/pe.tessel" --plugins "$jar" --iterations 200 --warmup 20 --layer-info "$out/pe-layers.json" > "$out/pe-run.txt" 2>&1; echo "forced tessel.eltwise: run exit $?: $(tail -1 "$out/pe-run.txt")"
python3 -c "import json;[print(l['name'],l['tactic'],l['precision'],round(l['time_ms']*1000,1),'us') for l in json.load(open('$out/pe-layers.json'))['layers']]" 2>&1 | head
rm -f "$out"/*.tessel; echo "total $(( $(date +%s) - t0 )) s"
