#!/usr/bin/env bash
# Eighteenth session, call 2 (issue 12): the deployment families the sixteenth session's export ran out of time for
# (ssdlite320's head without NMS, the CRNN, GPT-2 small), then the profiles stage (the dynamic-batch ResNet-50 target,
# never run on a GPU) with what is left. OUT=$OUT bash .gpu/next-call.sh
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
mkdir -p /tmp/fam; FAMILY_MODELS=ssdlite320_head,crnn,gpt2 STAGES=families OUT=/tmp/fam timeout 330 bash "$here/bench.sh" > "$out/families-stage.txt" 2>&1
echo "families stage exit $? after $(( $(date +%s) - t0 )) s"; tail -30 "$out/families-stage.txt" | cut -c1-300
cp /tmp/fam/*.txt "$out/" 2>/dev/null
left=$(( 560 - ($(date +%s) - t0) ))
if (( left > 150 )); then
  mkdir -p /tmp/prof; STAGES=profiles OUT=/tmp/prof timeout $left bash "$here/bench.sh" > "$out/profiles-stage.txt" 2>&1
  echo "profiles stage exit $? after $(( $(date +%s) - t0 )) s"; tail -20 "$out/profiles-stage.txt" | cut -c1-300
fi
