#!/usr/bin/env bash
# issue 9/11: plan-engine tests (Conv1x1GemmGpuTest: cublaslt.conv1x1 on the GPU), then rule vs joint per config
here=$(cd "$(dirname "$0")" && pwd)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
STAGES="plans strategies" STRATEGY_LIST="rule joint" STRATEGY_CONFIGS="resnet50:1:FP16 resnet50:256:FP16 bert-base:32:FP16" bash "$here/bench.sh"
