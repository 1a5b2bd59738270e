#!/usr/bin/env bash
# issue 14: llama-1b batch-1 decode attention, every partition size at contexts 128..1024
here=$(cd "$(dirname "$0")" && pwd)
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
timeout 100 "${java[@]}" org.tessel.runtime.gpu.bench.PagedAttentionBench --sweep 2>&1 | grep -vE "WARNING"
