#!/usr/bin/env bash
# Twenty-second session, call 2 (right after call 1, on the warm machine): issue 12's detector with NMS. The families
# stage with torchvision's ssdlite320 (its own postprocess: the PyTorch peer, timed eager and compiled; refused by
# Tessel's import at NonZero) and ssdlite320_effnms (the same network ending in TensorRT's EfficientNMS_TRT; PyTorch's
# outputs are its reference), built by Tessel for the CPU and the GPU at FP32 and FP16 and run on the exported input.
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out} STAGES=families FAMILY_MODELS=ssdlite320,ssdlite320_effnms FAMILY_ZOO=" " FAMILY_COMPILE_BUDGET=60 bash "$here/bench.sh"
