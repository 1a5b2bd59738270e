#!/usr/bin/env bash
# issues 9/10: where BERT-base b32's time goes at FP16 and at FP8 (per-tactic sums of a profiled run), and ResNet-50 b1's at FP16
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
cli=("${java[@]}" org.tessel.cli.Tessel)
d="$here/data/int8"; t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
prof() { # NAME MODEL BATCH FLAGS...
  local name=$1 model=$2 batch=$3; shift 3
  timeout 150 "${cli[@]}" build zoo:$model --batch $batch --strategy joint "$@" --save-engine "$out/$name.tessel" > "$out/$name-build.txt" 2>&1
  echo "$name build exit $? after $(( $(date +%s) - t0 )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/$name-build.txt" | head -1)"
  timeout 90 "${cli[@]}" run "$out/$name.tessel" --iterations 200 --warmup 30 --layer-info "$out/$name-layers.json" > "$out/$name-run.txt" 2>&1
  echo "$name run: $(grep -oE 'p50_ms=[0-9.]+' "$out/$name-run.txt")"
  python3 - "$out/$name-layers.json" <<'PY'
import json, sys, collections
L = json.load(open(sys.argv[1]))["layers"]
by = collections.defaultdict(lambda: [0.0, 0]); tot = 0.0
for l in L:
    k = (l.get("tactic") or "?") + " " + (l.get("precision") or "")
    by[k][0] += l.get("time_ms") or 0; by[k][1] += 1; tot += l.get("time_ms") or 0
print(f"  {len(L)} layers, {tot:.3f} ms summed")
for k, (t, n) in sorted(by.items(), key=lambda x: -x[1][0])[:14]: print(f"  {k[:70]:70s} {n:4d} {t:8.4f} ms")
PY
  rm -f "$out/$name.tessel"
}
prof bert16 bert-base 32 --best
prof bert8 bert-base 32 --best --fp8 --calib-cache "$d/bert-base-fp8.cache"
prof rn1 resnet50 1 --best
