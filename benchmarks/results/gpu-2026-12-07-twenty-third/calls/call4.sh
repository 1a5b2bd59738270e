#!/usr/bin/env bash
# Twenty-third session, call 4: what fits the last ~80 s of device time after five refused starts. BERT-base b32 FP16
# with the exact GELU and its per-layer times (the 16-byte elementwise kernel: bias + GELU was 25.6 us a layer on the
# fourteenth session's H100), then issue 12's NMS tests while time remains (the ssdlite-nms layer: 619-652 us in call 1).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 40 "${java[@]}" org.tessel.cli.Tessel build zoo:bert-base --batch 32 --strategy joint --best --save-engine "$out/bert.tessel" > "$out/bert-build.txt" 2>&1
timeout 20 "${java[@]}" org.tessel.cli.Tessel run "$out/bert.tessel" --iterations 200 --warmup 30 --layer-info "$out/bert-layers.json" > "$out/bert-run.txt" 2>&1
echo "bert-base b32 exact: $(grep -oE 'p50_ms=[0-9.]+' "$out/bert-run.txt") $(grep -oE 'predicted [0-9.]+ ms' "$out/bert-build.txt" | head -1) after $(( $(date +%s) - t0 )) s"
python3 - "$out/bert-layers.json" <<'PY'
import json, sys, collections
L = json.load(open(sys.argv[1]))['layers']; by = collections.defaultdict(lambda: [0.0, 0])
for l in L: k = l['tactic'] + ' ' + l['op']; by[k][0] += l['time_ms'] * 1000; by[k][1] += 1
for k, v in sorted(by.items(), key=lambda x: -x[1][0])[:7]: print(f"  {k:55s} {v[0]:8.1f} us x{v[1]} ({v[0] / v[1]:.1f} each)")
PY
left=$(( 70 - ($(date +%s) - t0) ))
(( left > 15 )) && timeout $left "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.NmsLayersGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors 2>&1 | grep -E '^RESULT\|EfficientNMS (ssdlite|detector engine FP16 graph)|tests (successful|failed)' | cut -c1-200
echo "call total $(( $(date +%s) - t0 )) s"
rm -f "$out"/*.tessel "$out"/*.txt "$out"/*.json
