#!/usr/bin/env bash
# Twenty-third session, call 1. (1) issue 9: the measured search at ResNet-50 b32 had built a slower plan than the rule
# (1.322 ms against 1.101): the tuner now times the RGB stem on the network's NCHW input as engines run it, and moves
# few-channel reformats one thread per pixel. GPU tests first (the reformat kernels, the tuner's measured plans, and
# issue 12's NMS tests with the zoo's ssdlite-nms engines, not rerun since their fix), then ResNet-50 b1 and b32 FP16: the rule
# plan against the joint search priced by measurement (--tuning top-k), both checked against the reference, PyTorch in the
# same run. (2) Probes for the next changes: BERT's bias + exact GELU kernel against variants (gelu_bench.py) and cuBLASLt's
# INT8 matmul at ResNet-50's K = 64 shapes with every algorithm and form (int8_probe.py).
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 60 python3 "$here/calls/gelu_bench.py" 2>&1 | tail -14
echo "gelu bench after $(( $(date +%s) - t0 )) s"
timeout 150 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.kernels.TesselKernelsGpuTest \
    --select-class=org.tessel.runtime.gpu.engine.GpuTunerGpuTest --select-class=org.tessel.runtime.gpu.engine.NmsLayersGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-400 | head -8
grep -E '^RESULT\|(tuner|EfficientNMS|ssdlite)' "$out/tests.log" | cut -c1-300 | head -12
for b in 1 32; do
  for strat in rule measured; do
    s=$(date +%s); eng="$out/r50.tessel"
    extra=(); [[ $strat == measured ]] && extra=(--strategy joint --precision '*=fp16' --tuning top-k --timing-cache "$out/timing-cache.txt")
    timeout 200 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch $b --fp16 "${extra[@]}" --save-engine "$eng" > "$out/r50-b$b-$strat-build.txt" 2>&1
    timeout 40 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 200 --warmup 20 --layer-info "$out/r50-b$b-$strat-layers.json" > "$out/run.txt" 2>&1
    p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/run.txt")
    timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:resnet50 --batch $b --rtol 1e-2 --atol 1e-2 > "$out/cmp.txt" 2>&1
    cmp=$(grep -E "engine vs reference" "$out/cmp.txt" | head -1 | tr -s ' ' | cut -c1-110)" $(tail -1 "$out/cmp.txt" | cut -c1-40)"
    echo "resnet50 b$b fp16 $strat after $(( $(date +%s) - s )) s: $p50 $(grep -oE 'predicted [0-9.]+ ms' "$out/r50-b$b-$strat-build.txt" | head -1) | $cmp"
    grep -E "^measured prices|rror" "$out/r50-b$b-$strat-build.txt" | head -2 | cut -c1-250
    gzip -f "$out/r50-b$b-$strat-layers.json" 2>/dev/null
    rm -f "$eng"
  done
done
gzip -f "$out/timing-cache.txt"
rm -f "$out/run.txt" "$out/cmp.txt"
s=$(date +%s)
timeout $(( 430 - ($(date +%s) - t0) )) python3 "$here/peers/torch_peer.py" --compile-budget 100 resnet50:1:fp16 resnet50:32:fp16 > "$out/torch.txt" 2> "$out/torch.err"
echo "torch peer exit $? after $(( $(date +%s) - s )) s"; grep -E "^PEER" "$out/torch.txt"; tail -2 "$out/torch.err" | cut -c1-200
timeout $(( 520 - ($(date +%s) - t0) )) python3 "$here/calls/int8_probe.py" 2>&1 | grep -E "INT8PROBE|Error" | cut -c1-400
echo "call total $(( $(date +%s) - t0 )) s"
