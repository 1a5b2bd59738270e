#!/usr/bin/env bash
# Prepares the whole-model GPU benchmark. Run HERE (not on the GPU machine):
#   1. builds and bundles the runtime like scripts/gpu-run.sh (into $GPU_DIR, default /work/main/.gpu,
#      the lead's checkout, which is what the device tool sends), plus benchmarks/peers/torch_peer.py,
#   2. writes $GPU_DIR/bench.sh, the command for the GPU machine. In ONE device run it
#      a. checks every engine against the reference interpreter (ZooEngineGpuTest),
#      b. times Tessel's engines (GpuEngineBench: CUDA-graph replay, 20 warm-ups, p50/p99 of 100),
#      c. times PyTorch on the same models and shapes (eager, torch.compile, reduce-overhead),
#      d. prints one table and writes $OUT/bench.csv.
# Then: run(command="bash .gpu/bench.sh", carry=[".gpu"]).
# CONFIGS (MODEL:BATCH:PRECISION, first = highest priority for the time-capped torch.compile runs) may be overridden.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export GPU_DIR=${GPU_DIR:-/work/main/.gpu}
configs=${CONFIGS:-"resnet50:1:FP16 resnet50:32:FP16 resnet50:1:FP32 mobilenetv2:1:FP16 bert-base:1:FP16 resnet50:256:FP16 resnet50:32:FP32 resnet50:256:FP32 mobilenetv2:1:FP32 bert-base:32:FP16"}
bash "$root/scripts/gpu-run.sh"
mkdir -p "$GPU_DIR/peers"
cp "$root/benchmarks/peers/torch_peer.py" "$GPU_DIR/peers/"

cat > "$GPU_DIR/bench.sh" <<'BENCH'
#!/usr/bin/env bash
# Runs on the GPU machine from the repository root; ends well inside the 10-minute limit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/tessel-gpu-out}
mkdir -p "$out"
t0=$(date +%s)
left() { echo $(( ${1} - ($(date +%s) - t0) )); }
echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1
echo "== correctness: engines against the reference interpreter"
timeout 210 "$here/java" -Xss8m -cp "$here/lib/*" org.junit.platform.console.ConsoleLauncher execute \
    --select-class=org.tessel.runtime.gpu.engine.ZooEngineGpuTest --include-tag=gpu --details=tree --disable-banner \
    --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "tests exit code $? after $(( $(date +%s) - t0 )) s"
grep -E '^RESULT\|engine' "$out/tests.log" | grep -v 'graph %' | cut -c1-200
echo "graph-replay comparisons: $(grep -cE '^RESULT\|engine.* graph %.*\|ok$' "$out/tests.log") ok, $(grep -E '^RESULT\|engine.* graph %' "$out/tests.log" | grep -vc '|ok$') not ok"
grep -E 'layers, arena|reference interpreter' "$out/tests.log" | cut -c1-400 | head -14
grep -E '^\[ *[0-9]+ tests (successful|failed)' "$out/tests.log"
grep -E '✘|=> |Exception' "$out/tests.log" | grep -v '✔' | cut -c1-300 | head -12
echo "== Tessel engines"
timeout $(left 360) "$here/java" -Dtessel.timingCache="$out/timing-cache.txt" -cp "$here/lib/*" org.tessel.runtime.gpu.engine.GpuEngineBench @CONFIGS@ > "$out/tessel.txt" 2>&1
echo "bench exit code $? after $(( $(date +%s) - t0 )) s"
grep '^BENCH' "$out/tessel.txt"
grep -vE '^BENCH' "$out/tessel.txt" | tail -5
echo "== PyTorch peer"
budget=${COMPILE_BUDGET:-$(( $(left 560) - 90 ))}; (( budget < 0 )) && budget=0
timeout $(left 575) python3 "$here/peers/torch_peer.py" --compile-budget $budget $(echo @CONFIGS@ | tr 'A-Z' 'a-z') > "$out/torch.txt" 2> "$out/torch.err"
echo "peer exit code $? after $(( $(date +%s) - t0 )) s"
grep -E '^PEER' "$out/torch.txt" | cut -c1-200
tail -3 "$out/torch.err"
echo "== table (ms; tessel = convolution algorithms tuned, tessel_fixed = the fixed rule; ratio = best PyTorch p50 / tuned Tessel p50, >1: Tessel faster)"
python3 - "$out" <<'PY'
import sys, csv
out = sys.argv[1]
tessel, peer = {}, {}
for line in open(f"{out}/tessel.txt"):
    f = line.strip().split("|")
    if f[0] == "BENCH" and len(f) >= 6:
        tessel[(f[1], f[2], f[3])] = ["error (tessel.txt)", "-", "-"] if f[4] == "error" else f[4:6] + [f[10] if len(f) > 10 else "-"]
for line in open(f"{out}/torch.txt"):
    f = line.strip().split("|")
    if f[0] == "PEER" and len(f) >= 6:
        peer.setdefault((f[1], f[2], f[3]), {})[f[4]] = f[5]
keys = list(tessel) + [k for k in peer if k not in tessel]
def num(s):
    try: return float(s)
    except (TypeError, ValueError): return None
rows = []
for k in keys:
    t = tessel.get(k, ["-", "-", "-"])
    p = peer.get(k, {})
    tp50 = num(t[0])
    best = [v for v in (num(p.get(m)) for m in ("eager", "compile", "reduce-overhead")) if v is not None]
    ratio = f"{min(best) / tp50:.2f}" if tp50 and best else "-"
    rows.append([k[0], k[1], k[2], t[0], t[1], t[2], p.get("eager", "-"), p.get("compile", "-"), p.get("reduce-overhead", "-"), ratio])
hdr = ["model", "batch", "precision", "tessel_p50", "tessel_p99", "tessel_fixed_p50", "torch_eager", "torch_compile", "torch_reduce_overhead", "ratio"]
with open(f"{out}/bench.csv", "w", newline="") as fh:
    w = csv.writer(fh); w.writerow(hdr); w.writerows(rows)
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for r in rows:
    print("| " + " | ".join(r) + " |")
PY
echo "total $(( $(date +%s) - t0 )) s"
BENCH
sed -i "s|@CONFIGS@|$configs|g" "$GPU_DIR/bench.sh"
chmod +x "$GPU_DIR/bench.sh"
echo "gpu-bench.sh: wrote $GPU_DIR/bench.sh; now run(command=\"bash .gpu/bench.sh\", carry=[\".gpu\"])"
