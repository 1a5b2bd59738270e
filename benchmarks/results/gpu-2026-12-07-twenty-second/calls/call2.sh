#!/usr/bin/env bash
# Twenty-second session, call 2 (run right after call 1 on the warm H100, the command as given to the device tool): the
# families stage on torchvision's ssdlite320 with its own postprocess (the PyTorch peer, eager; import refused at NonZero)
# and ssdlite320_effnms (whose export failed here: anchors computed in training mode, fixed before call 3).
OUT=$OUT STAGES=families FAMILY_MODELS=ssdlite320_effnms,ssdlite320 FAMILY_ZOO=" " FAMILY_COMPILE_BUDGET=0 timeout 250 bash .gpu/bench.sh > $OUT/families2.txt 2>&1
echo exit $?; rm -rf $OUT/families; grep -E '^(FAMILY|export exit)|==' $OUT/families2.txt | cut -c1-400
