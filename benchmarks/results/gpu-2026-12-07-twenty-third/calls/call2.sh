#!/usr/bin/env bash
here=$(cd "$(dirname "$0")" && pwd)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 200 python3 "$here/calls/int8_probe2.py" 2>&1 | grep -E "INT8PROBE2|Error" | cut -c1-400
