#!/usr/bin/env bash
# issue 9: BERT-base b32 FP16 exact GELU vs --approximate-gelu, torch peer both GELUs (eager, reduce-overhead), compare approx vs the model;
# issue 14: in-flight vs static batching, llama-1b FP16, 256 requests (prefill downloads last-token logits only)
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx48g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for v in "exact:" "approx:--approximate-gelu"; do
  name=${v%%:*}; read -r -a flags <<< "${v#*:}"
  timeout 80 "${java[@]}" org.tessel.cli.Tessel build zoo:bert-base --batch 32 --strategy joint --best "${flags[@]}" --save-engine "$out/$name.tessel" > "$out/bert-$name-build.txt" 2>&1
  echo "build $name exit $? after $(( $(date +%s) - t0 )) s: $(grep -oE 'predicted [0-9.]+ ms' "$out/bert-$name-build.txt" | head -1) $(grep -E '^approximate-gelu' "$out/bert-$name-build.txt")"
  timeout 40 "${java[@]}" org.tessel.cli.Tessel run "$out/$name.tessel" --iterations 300 --warmup 50 --layer-info "$out/bert-$name-layers.json" > "$out/bert-$name-run.txt" 2>&1
  echo "bert $name: $(grep -oE 'p50_ms=[0-9.]+' "$out/bert-$name-run.txt") after $(( $(date +%s) - t0 )) s"
  python3 -c "
import json,collections
L=json.load(open('$out/bert-$name-layers.json'))['layers']; by=collections.defaultdict(lambda:[0.0,0])
for l in L: k=l['tactic']+' '+l['precision']; by[k][0]+=l['time_ms']; by[k][1]+=1
[print('  %-56s %3d %8.4f ms'%(k[:56],n,t)) for k,(t,n) in sorted(by.items(),key=lambda x:-x[1][0])[:6]]" 2>&1 | head -7
done
timeout 100 python3 "$here/peers/torch_peer.py" --modes eager,reduce-overhead --compile-budget 70 bert-base:32:fp16 bert-base-tanh:32:fp16 > "$out/torch.txt" 2> "$out/torch.err"
echo "torch exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^PEER' "$out/torch.txt"; grep -vE 'Warning|warn' "$out/torch.err" | tail -2 | cut -c1-200
for name in exact approx; do
  timeout 30 "${java[@]}" org.tessel.cli.Tessel run "$out/$name.tessel" --iterations 300 --warmup 50 > "$out/bert-$name-run2.txt" 2>&1
  echo "bert $name again: $(grep -oE 'p50_ms=[0-9.]+' "$out/bert-$name-run2.txt")"
done
timeout 70 "${java[@]}" org.tessel.cli.Tessel compare "$out/approx.tessel" --model zoo:bert-base --batch 32 --no-onnxruntime --rtol 1e-2 --atol 1e-2 > "$out/bert-approx-compare.txt" 2>&1
echo "compare approx exit $? after $(( $(date +%s) - t0 )) s"; tail -4 "$out/bert-approx-compare.txt" | cut -c1-200
rm -f "$out"/*.tessel
left=$(( ${CALL_S:-585} - ($(date +%s) - t0) ))
timeout $left "$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests ${REQ:-256} --seed 1 \
  --prompt-len 32-1024 --output-len 16-512 --kv-blocks 4096 --max-batch 32 --chunk 128 --warmup 0 --repeat 1 > "$out/serve-1b.txt" 2>&1
echo "serve-bench exit $? after $(( $(date +%s) - t0 )) s (limit $left)"; grep -vE '^refused' "$out/serve-1b.txt" | tail -12 | cut -c1-260
