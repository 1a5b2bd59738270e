#!/usr/bin/env bash
# issue 14: the tensor-core paged prefill (tessel.attention.paged/mma): its kernel test against the host, the GPU decoder
# runner's greedy tokens against the CPU runner with it, then llama-1b b32 prefill + decode, then serve-bench in-flight vs
# static with KV memory binding (1024 blocks, batch <= 64) with the mma prefill, as call 1 ran it with the tiled one.
# Not run in the fifteenth session (no machine came); for the next.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
left() { echo $(( ${CALL_S:-560} - ($(date +%s) - t0) )); }
sb() { # name kvblocks maxbatch chunk [more serve-bench flags]
  timeout $(( $(left) > 20 ? $(left) : 20 )) "${java[@]}" org.tessel.cli.Tessel serve-bench zoo:llama-1b --gpu --requests 256 --seed 1 \
    --prompt-len 32-1024 --output-len 16-512 --kv-blocks $2 --max-batch $3 --chunk $4 --prefill-form mma "${@:5}" --warmup 0 --repeat 1 > "$out/serve-$1.txt" 2>&1
  echo "serve-bench $1 (kv $2 blocks, batch <= $3, chunk $4) exit $? after $(( $(date +%s) - t0 )) s"; grep -vE '^(refused|warning)' "$out/serve-$1.txt" | tail -7 | cut -c1-330
}
sb kv1024-b64-wm6 1024 64 1024 --kv-watermark 0.06
sb kv1024-b64-wm3b 1024 64 1024 --kv-watermark 0.03
