#!/usr/bin/env bash
# issues 14/10/9: INT4 GEMV tensor-core form (interleaved chains, unroll), llama-1b decode FP16 and INT4 same run, BERT b32 FP16 vs FP8 (vectorized FP8 epilogue), FusedActivationGpuTest, serve-bench llama-1b
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 100 "${java[@]}" org.tessel.runtime.gpu.bench.QuantizedGemvBench > "$out/gemv-bench.txt" 2>&1
echo "gemv bench exit $? after $(( $(date +%s) - t0 )) s"; grep -E "w4 g128|whole layer" "$out/gemv-bench.txt" | cut -c1-200
for w in fp16 int4:128; do
  timeout 100 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 $([[ $w != fp16 ]] && echo --weights $w) > "$out/llm-${w%%:*}.txt" 2>&1
  echo "llm $w exit $? after $(( $(date +%s) - t0 )) s"
  grep -E '^(LLM\||decode step on)' "$out/llm-${w%%:*}.txt" | cut -c1-250
  grep -E 'Exception|rror' "$out/llm-${w%%:*}.txt" | head -3
done
d="$here/data/int8"
for v in "b16:--best" "b8:--best --fp8 --calib-cache $d/bert-base-fp8.cache"; do
  name=${v%%:*}; read -r -a flags <<< "${v#*:}"
  timeout 90 "${java[@]}" org.tessel.cli.Tessel build zoo:bert-base --batch 32 --strategy joint "${flags[@]}" --save-engine "$out/$name.tessel" > "$out/$name-build.txt" 2>&1
  timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$out/$name.tessel" --iterations 200 --warmup 30 --layer-info "$out/$name-layers.json" > "$out/$name-run.txt" 2>&1
  echo "bert $name: $(grep -oE 'p50_ms=[0-9.]+' "$out/$name-run.txt") after $(( $(date +%s) - t0 )) s"
  python3 -c "
import json,collections,sys
L=json.load(open('$out/$name-layers.json'))['layers']; by=collections.defaultdict(lambda:[0.0,0])
for l in L: k=l['tactic']+' '+l['precision']; by[k][0]+=l['time_ms']; by[k][1]+=1
[print('  %-60s %3d %8.4f ms'%(k[:60],n,t)) for k,(t,n) in sorted(by.items(),key=lambda x:-x[1][0])[:7]]" 2>&1 | head -8
  rm -f "$out/$name.tessel"
done
timeout 120 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.FusedActivationGpuTest \
  --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"; grep -E '✘' "$out/tests.log" | cut -c1-200 | head -5
left=$(( ${CALL_S:-420} - ($(date +%s) - t0) ))
(( left > 60 )) && timeout $left "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 --prompt-len 32-1024 --output-len 16-512 \
  --kv-blocks 4096 --max-batch 64 --chunk 256 --warmup 0 --repeat 1 > "$out/serve-1b.txt" 2>&1
echo "serve-bench exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^refused' "$out/serve-1b.txt" | tail -8 | cut -c1-260
