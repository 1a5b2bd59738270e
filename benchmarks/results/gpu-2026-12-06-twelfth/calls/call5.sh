#!/usr/bin/env bash
# issue 12: GPT-2 (dynamo export, rows-merged attention output); issue 14: decode step at the real context; Tile/GatherND GPU test
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
timeout 60 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.TileGatherNdGpuTest --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/tests.log" 2>&1
echo "tests exit $? after $(( $(date +%s) - t0 )) s"; grep -E '^\[ *[0-9]+ tests (successful|failed)|TileGatherNdGpuTest:' "$out/tests.log" | cut -c1-200; grep '✘' "$out/tests.log" | cut -c1-200 | head -3
timeout 120 "${java[@]}" org.tessel.cli.LlmDecodeBench --model llama-1b --prompt 128 --new 128 > "$out/llm-fp16.txt" 2>&1
echo "llm exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^(decode run ahead|LLM\||decode step on)' "$out/llm-fp16.txt" | cut -c1-400
STAGES="families" FAMILY_MODELS=gpt2 FAMILY_ZOO=" " FAMILY_COMPILE_BUDGET=0 bash "$here/bench.sh" > "$out/families.txt" 2>&1
grep -E '^FAMILY|export exit' "$out/families.txt" | cut -c1-300
echo "total $(( $(date +%s) - t0 )) s"
