#!/usr/bin/env bash
# Twenty-sixth session's GPU call (the twenty-fifth's, with this session's work: tessel.conv.stem_pool, ResNet's stem
# conv + ReLU + max pool in one kernel, tested and timed at batch 256, and planned by the joint search at every batch; the
# INT8 wide tile as 4 warps of 64 x 64 fed by ldmatrix). (2) GPU tests: tessel.conv.mma (f16 at batch 1: times per split; int8: codes equal the host's at batch 1 with
# either tile, and at batch 256 its times with the 64x64 and the wide 128x128 tile beside the f16 kernel's), the
# forced f16 engines beside cuDNN, the one-pixel reformat as a view, the GEMV on a classifier's Gemm, the elementwise
# kernels and the NMS. (4) ResNet-50 b256: the joint search's FP16 engine and the one with INT8 allowed (which now plans
# tessel.conv.mma at INT8: the requantizing epilogue in the kernel), PyTorch b256. (2b) ResNet-50 b1: the rule, the joint
# search (FP16: tessel.conv.mma with split K, the GEMV, the view) and INT8 allowed, layer profiles, the engines compared
# with the reference. (1) BERT-base b32 exact GELU + torch. (3) int8_probe2.py. (5) MobileNetV2 b1 rule vs joint.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
deadline=${DEADLINE:-380}
left() { echo $(( deadline - ($(date +%s) - t0) )); }
cap() { local l; l=$(left); (( l < $1 )) && echo "$l" || echo "$1"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# (2) GPU tests
if (( $(left) > 70 )); then
  timeout "$(cap 150)" "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.kernels.TesselKernelsGpuTest \
      --select-class=org.tessel.runtime.gpu.engine.NmsLayersGpuTest --select-class=org.tessel.runtime.gpu.kernels.ConvMmaGpuTest --select-class=org.tessel.runtime.gpu.kernels.ConvPoolGpuTest --select-class=org.tessel.runtime.gpu.engine.ConvMmaEngineGpuTest --select-class=org.tessel.runtime.gpu.engine.ReformatViewGpuTest --select-method=org.tessel.runtime.gpu.engine.GemvGpuTest#aClassifiersHeadRunsAsTheGemvOnTheGpu --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
  echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
  grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
  grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -6
  grep -E '^RESULT\|(EfficientNMS (ssdlite|detector engine FP16 graph)|tessel.conv.mma)|^RESULT conv_pool' "$out/tests.log" | cut -c1-320
fi
# (4) ResNet-50 b256: FP16 and INT8 allowed (scales calibrated at bundling), the joint search on the cost model
cal="$here/data/int8"
for v in fp16 int8; do
  (( $(left) < 60 )) && { echo "resnet50 b256 $v: out of time"; continue; }
  flags=(); [[ $v == int8 ]] && flags=(--int8 --calib-cache "$cal/resnet50-int8.cache")
  timeout "$(cap 80)" "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch 256 --strategy joint --best "${flags[@]}" --save-engine "$out/r50.tessel" > "$out/r50-$v-build.txt" 2>&1
  timeout "$(cap 50)" "${java[@]}" org.tessel.cli.Tessel run "$out/r50.tessel" --iterations 100 --warmup 20 --layer-info "$out/r50-$v-layers.json" > "$out/r50-$v-run.txt" 2>&1
  p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/r50-$v-run.txt" | cut -d= -f2)
  echo "resnet50 b256 $v: p50 ${p50:--} ms, $(python3 -c "print(f'{256 / $p50 * 1000:.0f} img/s')" 2>/dev/null) $(grep -oE 'predicted [0-9.]+ ms' "$out/r50-$v-build.txt" | head -1) $(grep -oE 'precision (mixed \{[^}]*\}|[A-Z0-9]+)' "$out/r50-$v-build.txt" | head -1 | cut -c1-100) after $(( $(date +%s) - t0 )) s"
  python3 - "$out/r50-$v-layers.json" <<'PY'
import json, sys, collections
try: L = json.load(open(sys.argv[1]))['layers']
except Exception as e: print('  no layer profile:', e); sys.exit()
by = collections.defaultdict(lambda: [0.0, 0])
for l in L: k = l['tactic'] + ' ' + l['precision'] if 'precision' in l else l['tactic']; by[k][0] += l['time_ms'] * 1000; by[k][1] += 1
for k, v in sorted(by.items(), key=lambda x: -x[1][0])[:8]: print(f"  {k:60s} {v[0]:8.1f} us x{v[1]} ({v[0] / v[1]:.1f} each)")
PY
  gzip -f "$out/r50-$v-layers.json"
  rm -f "$out/r50.tessel"
done
if (( $(left) > 70 )); then
  s=$(date +%s)
  timeout "$(cap 120)" python3 "$here/peers/torch_peer.py" --compile-budget 60 resnet50:256:fp16 > "$out/torch.txt" 2> "$out/torch.err"
  echo "torch peer (resnet50 b256) exit $? after $(( $(date +%s) - s )) s"; grep -E "^PEER" "$out/torch.txt"; tail -1 "$out/torch.err" | cut -c1-200
fi
# (2b) ResNet-50 b1 FP16: the joint search on the cost model (which now puts the 3x3 convolutions on tessel.conv.mma)
# against the rule engine, and INT8 allowed; layer profiles, and the joint engines checked against the reference
for strat in rule joint int8; do
  (( $(left) < 60 )) && { echo "resnet50 b1 $strat: out of time"; continue; }
  flags=(--fp16); [[ $strat == joint ]] && flags=(--strategy joint --best); [[ $strat == int8 ]] && flags=(--strategy joint --best --int8 --calib-cache "$cal/resnet50-int8.cache")
  timeout "$(cap 60)" "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch 1 "${flags[@]}" --save-engine "$out/r50b1.tessel" > "$out/r50b1-$strat-build.txt" 2>&1
  timeout "$(cap 30)" "${java[@]}" org.tessel.cli.Tessel run "$out/r50b1.tessel" --iterations 300 --warmup 50 --layer-info "$out/r50b1-$strat-layers.json" > "$out/r50b1-$strat-run.txt" 2>&1
  echo "resnet50 b1 $strat: $(grep -oE 'p50_ms=[0-9.]+' "$out/r50b1-$strat-run.txt") $(grep -oE 'predicted [0-9.]+ ms' "$out/r50b1-$strat-build.txt" | head -1) after $(( $(date +%s) - t0 )) s"
  python3 - "$out/r50b1-$strat-layers.json" <<'PY'
import json, sys, collections
try: L = json.load(open(sys.argv[1]))['layers']
except Exception as e: print('  no layer profile:', e); sys.exit()
by = collections.defaultdict(lambda: [0.0, 0])
for l in L: k = l['tactic'].split('/')[0] + ' ' + l['op']; by[k][0] += l['time_ms'] * 1000; by[k][1] += 1
for k, v in sorted(by.items(), key=lambda x: -x[1][0])[:6]: print(f"  {k:55s} {v[0]:8.1f} us x{v[1]} ({v[0] / v[1]:.1f} each)")
for l in L:
    if l['tactic'].startswith('tessel.conv.mma'): print(f"  {l['name'][:28]:28s} {l['tactic'][:40]:40s} {l['time_ms'] * 1000:6.1f} us")
PY
  gzip -f "$out/r50b1-$strat-layers.json"
  if [[ $strat != rule ]] && (( $(left) > 60 )); then
    tol=1e-2; [[ $strat == int8 ]] && tol=1
    timeout 40 "${java[@]}" org.tessel.cli.Tessel compare "$out/r50b1.tessel" --model zoo:resnet50 --batch 1 --no-onnxruntime --rtol $tol --atol $tol > "$out/r50b1-compare.txt" 2>&1
    echo "resnet50 b1 $strat compare exit $?: $(grep -E 'engine vs reference' "$out/r50b1-compare.txt" | head -1 | tr -s ' ' | cut -c1-120) $(tail -1 "$out/r50b1-compare.txt" | cut -c1-60)"
  fi
  rm -f "$out/r50b1.tessel"
done
# (1) BERT-base b32 FP16, exact GELU, the joint search on the cost model (every float precision allowed)
timeout 90 "${java[@]}" org.tessel.cli.Tessel build zoo:bert-base --batch 32 --strategy joint --best --save-engine "$out/bert.tessel" > "$out/bert-build.txt" 2>&1
timeout 40 "${java[@]}" org.tessel.cli.Tessel run "$out/bert.tessel" --iterations 300 --warmup 50 --layer-info "$out/bert-layers.json" > "$out/bert-run.txt" 2>&1
echo "bert-base b32 exact: $(grep -oE 'p50_ms=[0-9.]+' "$out/bert-run.txt") $(grep -oE 'predicted [0-9.]+ ms' "$out/bert-build.txt" | head -1) after $(( $(date +%s) - t0 )) s"
python3 - "$out/bert-layers.json" <<'PY'
import json, sys, collections
L = json.load(open(sys.argv[1]))['layers']; by = collections.defaultdict(lambda: [0.0, 0])
for l in L: k = l['tactic'] + ' ' + l['op']; by[k][0] += l['time_ms'] * 1000; by[k][1] += 1
for k, v in sorted(by.items(), key=lambda x: -x[1][0])[:7]: print(f"  {k:55s} {v[0]:8.1f} us x{v[1]} ({v[0] / v[1]:.1f} each)")
PY
gzip -f "$out/bert-layers.json"
s=$(date +%s)
timeout "$(cap 110)" python3 "$here/peers/torch_peer.py" --modes eager,reduce-overhead --compile-budget 60 bert-base:32:fp16 > "$out/torch-bert.txt" 2> "$out/torch-bert.err"
echo "torch peer (bert) exit $? after $(( $(date +%s) - s )) s"; grep -E "^PEER" "$out/torch-bert.txt"; tail -1 "$out/torch-bert.err" | cut -c1-200
if (( $(left) > 60 )); then
  timeout 50 "${java[@]}" org.tessel.cli.Tessel compare "$out/bert.tessel" --model zoo:bert-base --batch 32 --no-onnxruntime --rtol 1e-2 --atol 1e-2 > "$out/bert-compare.txt" 2>&1
  echo "bert compare exit $?: $(grep -E 'engine vs reference' "$out/bert-compare.txt" | head -1 | tr -s ' ' | cut -c1-120) $(tail -1 "$out/bert-compare.txt" | cut -c1-40)"
fi
rm -f "$out/bert.tessel"
# (3) the INT8 probe
(( $(left) > 45 )) && timeout "$(cap 60)" python3 "$here/calls/int8_probe2.py" 2>&1 | grep -E "INT8PROBE2|Error" | cut -c1-300
echo "probe after $(( $(date +%s) - t0 )) s"
# (5) MobileNetV2 b1: the rule plan against the joint search with every float precision allowed
for strat in rule joint; do
  (( $(left) < 25 )) && { echo "mobilenetv2 $strat: out of time"; continue; }
  timeout "$(cap 40)" "${java[@]}" org.tessel.cli.Tessel build zoo:mobilenetv2 --batch 1 $( [[ $strat == joint ]] && echo --strategy joint --best || echo --fp16 ) --save-engine "$out/m.tessel" > "$out/mbv2-$strat-build.txt" 2>&1
  timeout "$(cap 20)" "${java[@]}" org.tessel.cli.Tessel run "$out/m.tessel" --iterations 300 --warmup 50 > "$out/run.txt" 2>&1
  echo "mobilenetv2 b1 $strat: $(grep -oE 'p50_ms=[0-9.]+' "$out/run.txt") $(grep -oE 'predicted [0-9.]+ ms' "$out/mbv2-$strat-build.txt" | head -1)"
  rm -f "$out/m.tessel" "$out/run.txt"
done
echo "call total $(( $(date +%s) - t0 )) s"
# what comes back: stdout.txt and one archive of the logs and layer profiles (the transfer takes few files)
(cd "$out" && tar czf logs.tgz --exclude=stdout.txt --exclude=logs.tgz -- *.txt *.log *.json.gz *.err 2>/dev/null; find . -maxdepth 1 -type f ! -name logs.tgz ! -name stdout.txt -delete)
