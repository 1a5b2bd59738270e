#!/usr/bin/env bash
# issue 12: the deployment families (PyTorch exports vs ORT, Tessel CPU/GPU), after the export script's fix
here=$(cd "$(dirname "$0")" && pwd)
STAGES="families" FAMILY_ZOO=ssdlite FAMILY_COMPILE_BUDGET=60 bash "$here/bench.sh"
