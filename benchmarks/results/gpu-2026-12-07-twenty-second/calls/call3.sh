#!/usr/bin/env bash
# Twenty-second session, call 3 (the same warm H100, .gpu/peers/export-families.py with the eval-mode anchors fix): the
# families stage on ssdlite320_effnms alone, Tessel CPU and GPU (FP32, FP16) engines against PyTorch's outputs.
OUT=$OUT STAGES=families FAMILY_MODELS=ssdlite320_effnms FAMILY_ZOO=" " FAMILY_COMPILE_BUDGET=0 timeout 125 bash .gpu/bench.sh > $OUT/families3.txt 2>&1
echo exit $?; rm -rf $OUT/families; grep -E '^(FAMILY|export exit)' $OUT/families3.txt | cut -c1-400
