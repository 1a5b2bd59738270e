#!/usr/bin/env bash
# issue 12: optimization profiles (dynamic-batch ResNet-50 vs fixed b32) and the deployment families (PyTorch exports vs ORT, Tessel CPU/GPU)
here=$(cd "$(dirname "$0")" && pwd)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
STAGES="profiles families" FAMILY_COMPILE_BUDGET=60 bash "$here/bench.sh"
