#!/usr/bin/env bash
# issue 14: paged decode attention prefetching K only before its PDL wait (128 registers): attention bench batch 1/8/64 and the batch-1 sweep
here=$(cd "$(dirname "$0")" && pwd)
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
timeout 60 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --peak-gbs 3350 2>&1 | tail -11
timeout 30 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --sweep 2>&1 | grep SWEEP
