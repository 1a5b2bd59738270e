#!/usr/bin/env bash
# issue 11 (fast-relu forced, GridSample tuned) then the PyTorch peer on issue 9's configs, same machine
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/o}; mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 250 bash "$here/call6.sh"
echo "== PyTorch peer"
timeout 280 python3 "$here/peers/torch_peer.py" --compile-budget 200 resnet50:1:fp16 resnet50:256:fp16 bert-base:32:fp16 > "$out/torch.txt" 2> "$out/torch.err"
echo "peer exit $?"; cat "$out/torch.txt" | tail -20; tail -3 "$out/torch.err"
