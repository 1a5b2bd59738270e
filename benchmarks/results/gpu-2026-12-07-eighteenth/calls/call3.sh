#!/usr/bin/env bash
# Eighteenth session, call 3 (issue 14, speculative decoding): the lmpair stage with the draft now distilled on the
# target's own greedy continuations too (train_lm_pair.py --generated 1024): training, the golden test, speculative
# decoding k = 4 and 2 on CPU and GPU with the draft's and target's times per step. OUT=$OUT bash .gpu/next-call.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p /tmp/lm; STAGES=lmpair OUT=/tmp/lm timeout 560 bash "$here/bench.sh" > "$out/lmpair-stage.txt" 2>&1
echo "lmpair stage exit $?"; tail -40 "$out/lmpair-stage.txt" | cut -c1-300
cp /tmp/lm/lmpair-*.txt "$out/" 2>/dev/null; cp /tmp/lm/lm-pair/golden.json "$out/" 2>/dev/null
