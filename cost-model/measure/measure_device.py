"""Measures the GPU for the cost model's measured device spec and a calibration table.

Prints 'key value' lines for the spec and writes calibration.csv (op,tactic,shape,precision,
layout,measured_us) into the folder given as argv[1]. Kernels are timed inside CUDA graphs
(20 calls per graph, median of 15 replays), so each row is kernel time plus graph launch
overhead, which is what the cost model predicts with cudaGraphs=true.

Tactic ids name the library family that ran the kernel: torch.mm is priced as the catalogue's GEMM (cublaslt.gemm, on an ONNX Gemm node: the GPU engine runs no unfused MatMul);
conv2d is cuDNN with its heuristic algorithm choice (cudnn.benchmark off), recorded under
cudnn.conv.fused_bias_act (the engine's cuDNN call; IMPLICIT_PRECOMP_GEMM, the algorithm the heuristics pick for these shapes on tensor cores);
torch's own elementwise, softmax and layer-norm kernels stand in for Tessel's
(tessel.eltwise, tessel.softmax, tessel.layernorm).
"""
import csv, os, subprocess, sys
import torch
import torch.nn.functional as F

out = sys.argv[1]
dev = torch.device("cuda")
props = torch.cuda.get_device_properties(0)
print("gpu", props.name.replace(" ", "_"))
print("sms", props.multi_processor_count)
print("l2_bytes", props.L2_cache_size)
for attr in ("shared_memory_per_multiprocessor", "max_shared_memory_per_multiprocessor"):
    if hasattr(props, attr):
        print("shared_memory_per_sm_bytes", getattr(props, attr)); break
try:
    clk = subprocess.run(["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"], capture_output=True, text=True).stdout.strip()
    print("max_sm_clock_mhz", clk)
except Exception as e:
    print("max_sm_clock_mhz unknown", e)


def timed(fn, calls=20, replays=15):
    """Median microseconds per call of fn, captured calls times into one CUDA graph."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(calls):
            fn()
    g.replay(); torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0 / calls)
    times.sort()
    return times[len(times) // 2]


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on

# ---- peak GEMM throughput per precision ----
n = 8192
for prec, dt, tf32 in (("fp32", torch.float32, False), ("tf32", torch.float32, True), ("fp16", torch.float16, False), ("bf16", torch.bfloat16, False)):
    set_tf32(tf32)
    a = torch.randn(n, n, device=dev, dtype=dt); b = torch.randn(n, n, device=dev, dtype=dt)
    us = timed(lambda: torch.mm(a, b), calls=5, replays=7)
    print("peak_tflops." + prec, round(2 * n ** 3 / (us * 1e-6) / 1e12, 1))
    del a, b
a8 = torch.randint(-8, 8, (n, n), device=dev, dtype=torch.int8)
# a column-major B takes cuBLASLt's IMMA path; a row-major one falls to a slow kernel (128 TOPS measured)
b8 = torch.randint(-8, 8, (n, n), device=dev, dtype=torch.int8).t().contiguous().t()
us = timed(lambda: torch._int_mm(a8, b8), calls=5, replays=7)
print("peak_tflops.int8", round(2 * n ** 3 / (us * 1e-6) / 1e12, 1))
del a8, b8
set_tf32(False)

# ---- memory bandwidth: a 1 GiB device-to-device copy reads and writes every byte ----
# timed with plain events, best of 10 (inside a graph right after the GEMMs it read 2712 GB/s once, 4214 on its own)
x = torch.empty(1 << 28, device=dev, dtype=torch.float32); y = torch.empty_like(x)
for _ in range(3):
    y.copy_(x)
torch.cuda.synchronize()
best = 1e30
for _ in range(10):
    a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
    a.record(); y.copy_(x); b.record(); b.synchronize()
    best = min(best, a.elapsed_time(b) * 1000.0)
print("memory_bandwidth_gbs", round(2 * x.numel() * 4 / (best * 1e-6) / 1e9, 0))
del x, y
torch.cuda.empty_cache()

# ---- calibration table ----
rows = []
def row(op, tactic, shape, prec, layout, us):
    rows.append((op, tactic, shape, prec, layout, round(us, 4)))

dtypes = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
for prec in ("fp32", "tf32", "fp16", "bf16"):
    set_tf32(prec == "tf32")
    dt = dtypes[prec]
    for m in (1, 16, 128, 512, 2048, 8192):
        for (nn, k) in ((768, 768), (3072, 768), (768, 3072), (1024, 1024), (4096, 4096)):
            a = torch.randn(m, k, device=dev, dtype=dt); b = torch.randn(k, nn, device=dev, dtype=dt)
            row("Gemm", "cublaslt.gemm", f"M={m},N={nn},K={k}", prec, "any", timed(lambda: torch.mm(a, b)))
set_tf32(False)

convs = [  # (C, H, K, R, stride) of ResNet-50's distinct convolutions, square images
    (3, 224, 64, 7, 2), (64, 56, 64, 1, 1), (64, 56, 64, 3, 1), (64, 56, 256, 1, 1), (256, 56, 64, 1, 1), (256, 56, 128, 1, 1),
    (128, 56, 128, 3, 2), (128, 28, 512, 1, 1), (512, 28, 128, 1, 1), (128, 28, 128, 3, 1), (512, 28, 256, 1, 1),
    (256, 28, 256, 3, 2), (256, 14, 1024, 1, 1), (1024, 14, 256, 1, 1), (256, 14, 256, 3, 1), (1024, 14, 512, 1, 1),
    (512, 14, 512, 3, 2), (512, 7, 2048, 1, 1), (2048, 7, 512, 1, 1), (512, 7, 512, 3, 1)]
for prec in ("fp32", "tf32", "fp16"):
    set_tf32(prec == "tf32")
    dt = dtypes[prec]
    for batch in (1, 32):
        for (c, h, k, r, s) in convs:
            x = torch.randn(batch, c, h, h, device=dev, dtype=dt).to(memory_format=torch.channels_last)
            w = torch.randn(k, c, r, r, device=dev, dtype=dt).to(memory_format=torch.channels_last)
            p = r // 2
            # an f16 NHWC conv over a channel count off 8 is the catalogue's stem tactic (the engine pads it)
            tactic = "tessel.conv.stem" if prec == "fp16" and c % 8 and c <= 64 else "cudnn.conv.fused_bias_act"
            row("Conv", tactic, f"N={batch},C={c},H={h},W={h},K={k},R={r},S={r},stride={s},pad={p}", prec, "nhwc",
                timed(lambda: F.conv2d(x, w, stride=s, padding=p)))
set_tf32(False)

for prec in ("fp32", "fp16"):
    dt = dtypes[prec]
    for e in range(10, 27, 2):
        x = torch.randn(1 << e, device=dev, dtype=dt)
        row("Relu", "tessel.eltwise", f"elements={1 << e}", prec, "any", timed(lambda: torch.relu(x)))
    for rws, cols in ((128, 128), (1536, 128), (12288, 128), (4096, 512), (49152, 512), (32, 1000), (256, 1000)):
        x = torch.randn(rws, cols, device=dev, dtype=dt)
        row("Softmax", "tessel.softmax", f"rows={rws},cols={cols}", prec, "any", timed(lambda: torch.softmax(x, -1)))
    for rws in (128, 4096, 16384):
        x = torch.randn(rws, 768, device=dev, dtype=dt); g = torch.ones(768, device=dev, dtype=dt); bb = torch.zeros(768, device=dev, dtype=dt)
        row("LayerNormalization", "tessel.layernorm", f"rows={rws},cols=768", prec, "any", timed(lambda: F.layer_norm(x, (768,), g, bb)))

path = os.path.join(out, "h200-calibration.csv")
with open(path, "w", newline="") as f:
    f.write("# " + props.name + ", torch " + torch.__version__ + ", cuDNN " + str(torch.backends.cudnn.version()) + "; see cost-model/measure/measure_device.py\n")
    wtr = csv.writer(f)
    wtr.writerow(["op", "tactic", "shape", "precision", "layout", "measured_us"])
    wtr.writerows(rows)
print("calibration_rows", len(rows))
