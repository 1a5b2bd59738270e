#!/usr/bin/env bash
# issue 12: the families stage of scripts/gpu-bench.sh (PyTorch exports, ONNX Runtime references, Tessel CPU/GPU FP32/FP16 engines; the zoo families as joint-plan GPU engines), as run in call 3
mkdir -p /tmp/fam; STAGES=families OUT=/tmp/fam timeout 430 bash .gpu/bench.sh > $OUT/stdout.txt 2>&1; echo rc $?; ls /tmp/fam | head -40; cp $(ls -S /tmp/fam/*.txt 2>/dev/null | head -6) $OUT/ 2>/dev/null; tail -50 $OUT/stdout.txt | cut -c1-300
