#!/usr/bin/env bash
# INT8 convolutions: every backend on ResNet-50's shapes; the INT8 ResNet-50 engine per layer; the joint plan priced by measurement
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
cache=$here/data/int8/resnet50-int8.cache
timeout 150 "${java[@]}" org.tessel.runtime.gpu.bench.Int8ConvBench 256 > "$out/int8conv.txt" 2>&1
echo "int8conv exit $? after $(( $(date +%s) - t0 )) s"; grep -E "^\||^device" "$out/int8conv.txt" | cut -c1-400; grep -E "Exception" "$out/int8conv.txt" | head -3 | cut -c1-300
timeout 80 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch 256 --strategy joint --best --int8 --calib-cache $cache --save-engine "$out/q.tessel" > "$out/q-build.txt" 2>&1
echo "build exit $? after $(( $(date +%s) - t0 )) s"
timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$out/q.tessel" --iterations 20 --warmup 5 --layer-info "$out/q-layers.json" > "$out/q-run.txt" 2>&1
echo "run exit $? after $(( $(date +%s) - t0 )) s"; tail -2 "$out/q-run.txt" | cut -c1-300; rm -f "$out/q.tessel"
timeout $(( 560 - ($(date +%s) - t0) - 60 )) "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch 256 --strategy joint --best --int8 --calib-cache $cache \
    --timing-cache "$out/timing-cache.txt" --tuning top-k --save-engine "$out/t.tessel" > "$out/t-build.txt" 2>&1
echo "tuned build exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^\s+at ' "$out/t-build.txt" | tail -6 | cut -c1-300
[[ -f $out/t.tessel ]] && timeout 50 "${java[@]}" org.tessel.cli.Tessel run "$out/t.tessel" --iterations 100 --warmup 20 > "$out/t-run.txt" 2>&1
echo "tuned run exit $? after $(( $(date +%s) - t0 )) s"; tail -1 "$out/t-run.txt" | cut -c1-300; rm -f "$out/t.tessel"
