#!/usr/bin/env bash
# Prepared in the twenty-first session, which got no GPU (every start refused); the twenty-second adds NmsLayersGpuTest
# (EfficientNMS_TRT's kernel against the reference, and the zoo's ssdlite-nms engines) and call2's families stage for
# issue 12's detector, first; then the INT8 checks, the tests until 340 s, the engines only while 240 s have not passed.
# Twenty-first session's changes, call 1: cuBLASLt's requantizing INT8 matmul (int8 D, per-channel alphas, f32 bias, ReLU, a
# residual through C) as the INT8 form of cublaslt.conv1x1 / cublaslt.conv.im2col and of the INT8 GEMMs. A ctypes probe
# of the cuBLASLt configuration first (its heuristic and its rounding against torch), then Int8EngineGpuTest (INT8 plans
# against the CPU emulation; the INT8 conv tactics timed on ResNet-50 layer shapes), ConvIm2colGemmGpuTest (a batch in
# slices of images), Fp8ConvGpuTest (FP8 convolutions under the cuBLASLt tactics' ids) and Im2colGpuTest, then the int8
# stage's engines (ResNet-50 b256/b1 and BERT-base b32: the joint search's FP16 and INT8 engines, and ResNet-50 b256 with
# every convolution held to INT8), the INT8 b256 engines' layers.
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
java=("$here/java" -Xss8m -Xmx100g -Dtessel.shared="$here" -cp "$here/lib/*")
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
# first issue 12 (the session's one start may be all it gets): EfficientNMS_TRT's kernel against the reference and the
# zoo's ssdlite-nms engines, then the families stage
timeout 120 "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.gpu.engine.NmsLayersGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors > "$out/nms-tests.log" 2>&1
echo "NMS tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/nms-tests.log"
grep -E '✘|=> ' "$out/nms-tests.log" | grep -v '✔' | cut -c1-400 | head -6
grep -E '^RESULT\|EfficientNMS' "$out/nms-tests.log" | cut -c1-300
# issue 12's detector with NMS (call2.sh's families stage, time-capped): torchvision's ssdlite320 with its own postprocess
# (the PyTorch peer; Tessel's import refuses it at NonZero) and ssdlite320_effnms (the same network ending in
# EfficientNMS_TRT, PyTorch's outputs its reference), Tessel CPU and GPU engines (FP32, FP16) on the exported input
OUT="$out/fam" STAGES=families FAMILY_MODELS=ssdlite320,ssdlite320_effnms FAMILY_ZOO=" " FAMILY_COMPILE_BUDGET=30 \
    timeout 170 bash "$here/bench.sh" > "$out/families.txt" 2>&1
echo "families exit $? after $(( $(date +%s) - t0 )) s"
pkill -f export-families.py; pkill -f org.tessel.cli.Tessel   # what a timed-out stage left running
grep -E '^(FAMILY|export exit)' "$out/families.txt" | cut -c1-400
rm -rf "$out/fam"
timeout 60 python3 - <<'PY' 2>&1 | tail -12
import ctypes, torch
lt = ctypes.CDLL("libcublasLt.so.13"); h = ctypes.c_void_p(); assert lt.cublasLtCreate(ctypes.byref(h)) == 0
def seti(d, a, v):
    x = ctypes.c_int32(v); r = lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 4); assert r == 0, (a, r)
def setp(d, a, v):
    x = ctypes.c_uint64(v); r = lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 8); assert r == 0, (a, r)
def layout(rows, cols, ld):
    l = ctypes.c_void_p(); assert lt.cublasLtMatrixLayoutCreate(ctypes.byref(l), 3, ctypes.c_uint64(rows), ctypes.c_uint64(cols), ctypes.c_int64(ld)) == 0; return l
ws = torch.empty(32 << 20, dtype=torch.uint8, device="cuda")
def run(m, n, k, epi, beta, iters=20):
    d = ctypes.c_void_p(); assert lt.cublasLtMatmulDescCreate(ctypes.byref(d), 72, 0) == 0
    seti(d, 3, 1); seti(d, 4, 0); seti(d, 2, 4); seti(d, 7, epi)
    W = torch.randint(-127, 128, (m, k), dtype=torch.int8, device="cuda"); X = torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda")
    C = torch.randint(-127, 128, (n, m), dtype=torch.int8, device="cuda"); D = torch.zeros((n, m), dtype=torch.int8, device="cuda")
    alpha = (torch.rand(m, device="cuda") * 2 + 0.5) / (k * 40); bias = torch.randn(m, device="cuda") * 20
    if epi & 4: seti(d, 26, 0); setp(d, 8, bias.data_ptr())
    A, B, L = layout(k, m, k), layout(k, n, k), layout(m, n, m)
    pref = ctypes.c_void_p(); lt.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)); wsz = ctypes.c_uint64(32 << 20); lt.cublasLtMatmulPreferenceSetAttribute(pref, 1, ctypes.byref(wsz), 8)
    res = (ctypes.c_ubyte * (96 * 4))(); cnt = ctypes.c_int(0)
    r = lt.cublasLtMatmulAlgoGetHeuristic(h, d, A, B, L, L, pref, 4, res, ctypes.byref(cnt))
    tag = f"PROBE m={m} n={n} k={k} epi={epi} beta={beta}"
    if r != 0 or cnt.value == 0: print(tag, "heuristic status", r, "algorithms", cnt.value); return
    be = ctypes.c_float(beta); st = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    go = lambda: lt.cublasLtMatmul(h, d, ctypes.c_void_p(alpha.data_ptr()), ctypes.c_void_p(W.data_ptr()), A, ctypes.c_void_p(X.data_ptr()), B, ctypes.byref(be),
                                   ctypes.c_void_p(C.data_ptr()), L, ctypes.c_void_p(D.data_ptr()), L, ctypes.cast(res, ctypes.c_void_p), ctypes.c_void_p(ws.data_ptr()), ctypes.c_uint64(32 << 20), st)
    s = go(); torch.cuda.synchronize()
    if s != 0: print(tag, "matmul status", s); return
    ref = (X.double() @ W.double().T) * alpha.double()[None, :] + beta * C.double()
    if epi & 4: ref = ref + bias.double()[None, :]
    if epi & 2: ref = ref.clamp(min=0)
    diff = (D.double() - torch.round(ref).clamp(-128, 127)).abs()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    for _ in range(iters): go()
    e1.record(); torch.cuda.synchronize(); us = e0.elapsed_time(e1) * 1000 / iters
    Xh, Wh = X.half(), W.half(); torch.matmul(Xh, Wh.T); e0.record()
    for _ in range(iters): torch.matmul(Xh, Wh.T)
    e1.record(); torch.cuda.synchronize(); hus = e0.elapsed_time(e1) * 1000 / iters
    print(tag, f"algorithms {cnt.value}, max |diff| {diff.max().item():.0f} codes, off by one {(diff > 0).float().mean().item():.5f}; int8 {us:.1f} us, torch fp16 {hus:.1f} us")
for epi in (1, 2, 4, 6): run(256, 4096, 576, epi, 0.7)
for (m, n, k) in [(64, 802816, 64), (256, 802816, 64), (64, 802816, 576), (128, 200704, 1152), (512, 12544, 4608)]: run(m, n, k, 6, 1.0)
PY
echo "probe after $(( $(date +%s) - t0 )) s"
timeout $(( 340 - ($(date +%s) - t0) )) "${java[@]}" org.junit.platform.console.ConsoleLauncher execute --select-class=org.tessel.runtime.calib.Int8EngineGpuTest \
    --select-class=org.tessel.runtime.gpu.engine.ConvIm2colGemmGpuTest --select-class=org.tessel.runtime.gpu.engine.Fp8ConvGpuTest \
    --select-class=org.tessel.runtime.gpu.kernels.Im2colGpuTest \
    --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors --reports-dir="$out/junit" > "$out/tests.log" 2>&1
echo "GPU tests exit $? after $(( $(date +%s) - t0 )) s"
grep -E '^\[ *[0-9]+ tests (successful|failed|skipped)' "$out/tests.log"
grep -E '✘|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-400 | head -8
grep -E 'INT8 nodes of|^RESULT\|(int8 conv|cublaslt.conv.im2col n4|EfficientNMS)' "$out/tests.log" | cut -c1-420
rm -rf "$out/junit"
# the int8 stage's engines, one build and run each (joint search on the cost model, every float precision allowed; the
# INT8 scales calibrated on the CPU at bundling), the INT8 ResNet-50 b256 ones with their layers' times
cal="$here/data/int8"
for cfg in "resnet50 256 fp16" "resnet50 256 int8" "resnet50 256 int8-conv" "resnet50 1 int8" "bert-base 32 int8"; do
  read -r model batch v <<< "$cfg"
  (( $(date +%s) - t0 > 240 )) && { echo "QUANT|$model|$batch|$v|-|-|out of time"; continue; }
  eng="$out/q.tessel"; rm -f "$eng"; flags=(); info=()
  [[ $v == int8* ]] && flags=(--int8 --calib-cache "$cal/$model-int8.cache")
  [[ $v == int8-conv ]] && flags+=(--precision 'Conv=int8' --int8-fallback)
  [[ $model == resnet50 && $batch == 256 && $v == int8* ]] && info=(--layer-info "$out/resnet50-b256-$v-layers.json")
  timeout 90 "${java[@]}" org.tessel.cli.Tessel build zoo:$model --batch $batch --strategy joint --best "${flags[@]}" --save-engine "$eng" > "$out/q-build.txt" 2>&1
  if [[ ! -f $eng ]]; then echo "QUANT|$model|$batch|$v|-|-|build failed: $(grep -vE '^\s+at ' "$out/q-build.txt" | tail -2 | tr '\n' ' ' | cut -c1-220)"; continue; fi
  timeout 60 "${java[@]}" org.tessel.cli.Tessel run "$eng" --iterations 100 --warmup 20 "${info[@]}" > "$out/q-run.txt" 2>&1
  p50=$(grep -oE 'p50_ms=[0-9.]+' "$out/q-run.txt" | cut -d= -f2)
  echo "QUANT|$model|$batch|$v|${p50:--}|$(python3 -c "print(f'{$batch / $p50 * 1000:.0f}')" 2>/dev/null || echo -)|$(grep -oE 'predicted [0-9.]+ ms' "$out/q-build.txt" | head -1)|$(grep -oE 'precision (mixed \{[^}]*\}|[A-Z0-9]+)' "$out/q-build.txt" | head -1 | cut -c1-120)"
  [[ ${#info[@]} -gt 0 ]] && grep -A10 "slowest layers" "$out/q-run.txt"
done
rm -f "$out/q.tessel" "$out/q-build.txt" "$out/q-run.txt"
rm -rf "$out/bench"
echo "call total $(( $(date +%s) - t0 )) s"
