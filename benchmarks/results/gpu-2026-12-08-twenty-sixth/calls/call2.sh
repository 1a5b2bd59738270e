#!/usr/bin/env bash
# Twenty-sixth session's lean GPU call (with ConvPoolGpuTest: the fused stem's check and its batch-256 time) (call1.sh's essentials, for a call with little device time left): the GPU tests of
# tessel.conv.mma (f16 per split at batch 1; int8 codes against the host at batch 1 with either tile, and its times at
# batch 256 beside the f16 kernel's) and its forced f16 engines beside cuDNN; ResNet-50 b256 FP16 and INT8-allowed joint
# engines (layer profiles); ResNet-50 b1 joint FP16 and INT8-allowed, compared with the reference. DEADLINE seconds.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
deadline=${DEADLINE:-300}
left() { echo $(( deadline - ($(date +%s) - t0) )); }
cap() { local l; l=$(left); (( l < $1 )) && echo "$l" || echo "$1"; }
cal="$here/data/int8"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# LEAN=1 (a call of about 180 s): the kernel test only, then the b256 engines, INT8 first
tests=(--select-class=org.tessel.runtime.gpu.kernels.ConvMmaGpuTest --select-class=org.tessel.runtime.gpu.kernels.ConvPoolGpuTest); [[ -z $LEAN ]] && tests+=(--select-class=org.tessel.runtime.gpu.engine.ConvMmaEngineGpuTest)
timeout "$(cap $([[ -n $LEAN ]] && echo 80 || echo 110))" "${java[@]}" org.junit.platform.console.ConsoleLauncher execute "${tests[@]}" --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -6
grep -E '^RESULT\|(tessel.conv.mma)|^RESULT conv_pool' "$out/tests.log" | cut -c1-300
summary() {
  python3 - "$1" <<'PY'
import json, sys, collections
try: L = json.load(open(sys.argv[1]))['layers']
except Exception as e: print('  no layer profile:', e); sys.exit()
by = collections.defaultdict(lambda: [0.0, 0])
for l in L: k = l['tactic'] + ' ' + l.get('precision', ''); by[k][0] += l['time_ms'] * 1000; by[k][1] += 1
for k, v in sorted(by.items(), key=lambda x: -x[1][0])[:7]: print(f"  {k:60s} {v[0]:8.1f} us x{v[1]} ({v[0] / v[1]:.1f} each)")
PY
  gzip -f "$1"
}
configs=(b256:fp16 b256:int8 b1:fp16 b1:int8); [[ -n $LEAN ]] && configs=(b256:int8 b256:fp16 b1:int8)
for cfg in "${configs[@]}"; do
  b=${cfg%%:*}; v=${cfg##*:}; n=${b#b}
  (( $(left) < 40 )) && { echo "resnet50 $b $v: out of time"; continue; }
  flags=(--strategy joint --best); [[ $v == int8 ]] && flags+=(--int8 --calib-cache "$cal/resnet50-int8.cache")
  timeout "$(cap 70)" "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch $n "${flags[@]}" --save-engine "$out/r50.tessel" > "$out/r50-$b-$v-build.txt" 2>&1
  timeout "$(cap 40)" "${java[@]}" org.tessel.cli.Tessel run "$out/r50.tessel" --iterations $(( n > 1 ? 100 : 300 )) --warmup 20 --layer-info "$out/r50-$b-$v-layers.json" > "$out/r50-$b-$v-run.txt" 2>&1
  p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/r50-$b-$v-run.txt" | cut -d= -f2)
  echo "resnet50 $b $v: p50 ${p50:--} ms, $(python3 -c "print(f'{$n / $p50 * 1000:.0f} img/s')" 2>/dev/null) $(grep -oE 'predicted [0-9.]+ ms' "$out/r50-$b-$v-build.txt" | head -1) after $(( $(date +%s) - t0 )) s"
  [[ -z $p50 ]] && tail -3 "$out/r50-$b-$v-build.txt" "$out/r50-$b-$v-run.txt" | cut -c1-300
  summary "$out/r50-$b-$v-layers.json"
  if [[ $b == b1 ]] && (( $(left) > 45 )); then
    tol=1e-2; [[ $v == int8 ]] && tol=1
    timeout "$(cap 40)" "${java[@]}" org.tessel.cli.Tessel compare "$out/r50.tessel" --model zoo:resnet50 --batch 1 --no-onnxruntime --rtol $tol --atol $tol > "$out/r50-$b-$v-compare.txt" 2>&1
    echo "  compare exit $?: $(grep -E 'engine vs reference' "$out/r50-$b-$v-compare.txt" | head -1 | tr -s ' ' | cut -c1-140) $(tail -1 "$out/r50-$b-$v-compare.txt" | cut -c1-60)"
  fi
  rm -f "$out/r50.tessel"
done
echo "call total $(( $(date +%s) - t0 )) s"
(cd "$out" && tar czf logs.tgz --exclude=stdout.txt --exclude=logs.tgz -- *.txt *.log *.json.gz 2>/dev/null; find . -maxdepth 1 -type f ! -name logs.tgz ! -name stdout.txt -delete)
