#!/usr/bin/env bash
# issue 12: the deployment families again (Tile, GatherND, conv + Sigmoid/HardSwish, GPT-2 exported at opset 18)
here=$(cd "$(dirname "$0")" && pwd)
STAGES="families" FAMILY_ZOO="ssdlite efficientnet-b0" FAMILY_COMPILE_BUDGET=30 bash "$here/bench.sh"
