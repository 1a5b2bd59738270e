#!/usr/bin/env bash
# Twentieth session, call 8 (issue 9): ResNet-50 FP16 at batch 1 and 32, the rule plan against the joint search priced by
# measurement (--tuning top-k: each node's best tactics timed as one-layer engines, so cublaslt.conv.im2col runs only where
# it measured faster), per-layer times at b1, compare with the reference; PyTorch (eager, compile, reduce-overhead) on the
# same shapes in the same run.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for b in 1 32; do
  for strat in rule measured; do
    s=$(date +%s); eng="$out/r50.tessel"
    extra=(); [[ $strat == measured ]] && extra=(--strategy joint --precision '*=fp16' --tuning top-k --timing-cache "$out/timing-cache.txt")
    timeout 200 "${java[@]}" org.tessel.cli.Tessel build zoo:resnet50 --batch $b --fp16 "${extra[@]}" --save-engine "$eng" > "$out/r50-b$b-$strat-build.txt" 2>&1
    timeout 40 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 200 --warmup 20 $( [[ $b == 1 && $strat == measured ]] && echo --layer-info "$out/r50-b$b-$strat-layers.json" ) > "$out/run.txt" 2>&1
    p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/run.txt")
    cmp="-"; [[ $strat == measured ]] && { timeout 90 "${java[@]}" org.tessel.cli.Tessel compare "$eng" --model zoo:resnet50 --batch $b --rtol 1e-2 --atol 1e-2 > "$out/cmp.txt" 2>&1; cmp=$(grep -E "engine vs reference" "$out/cmp.txt" | head -1 | tr -s ' ' | cut -c1-110)" $(tail -1 "$out/cmp.txt" | cut -c1-40)"; }
    echo "resnet50 b$b fp16 $strat after $(( $(date +%s) - s )) s: $p50 $(grep -oE 'predicted [0-9.]+ ms' "$out/r50-b$b-$strat-build.txt" | head -1) | $cmp"
    grep -E "^tessel|rror" "$out/r50-b$b-$strat-build.txt" | head -2 | cut -c1-250
    rm -f "$eng"
  done
done
rm -f "$out/run.txt" "$out/cmp.txt"
s=$(date +%s)
timeout $(( 560 - ($(date +%s) - t0) )) python3 "$here/peers/torch_peer.py" --compile-budget 150 resnet50:1:fp16 resnet50:32:fp16 > "$out/torch.txt" 2> "$out/torch.err"
echo "torch peer exit $? after $(( $(date +%s) - s )) s"; grep -E "^PEER" "$out/torch.txt"; tail -2 "$out/torch.err" | cut -c1-200
echo "call total $(( $(date +%s) - t0 )) s"
