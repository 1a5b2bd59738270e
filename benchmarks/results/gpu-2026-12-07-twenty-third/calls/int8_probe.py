# Why cuBLASLt's requantizing INT8 matmul is slow at K = 64 with wide outputs (ResNet-50 layer1's 1x1s at b256:
# m = 256 channels, n = 802,816 pixels): the same problem with every algorithm the heuristic offers (up to 16), with a
# scalar alpha instead of the per-channel vector, with int32 output and no epilogue, torch._int_mm, and torch's FP16
# matmul; CUDA events, median of 20.
import ctypes, torch
lt = ctypes.CDLL("libcublasLt.so.13"); h = ctypes.c_void_p(); assert lt.cublasLtCreate(ctypes.byref(h)) == 0
def seti(d, a, v):
    x = ctypes.c_int32(v); r = lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 4); assert r == 0, (a, r)
def setp(d, a, v):
    x = ctypes.c_uint64(v); r = lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 8); assert r == 0, (a, r)
def layout(t, rows, cols, ld):
    l = ctypes.c_void_p(); assert lt.cublasLtMatrixLayoutCreate(ctypes.byref(l), t, ctypes.c_uint64(rows), ctypes.c_uint64(cols), ctypes.c_int64(ld)) == 0; return l
ws = torch.empty(32 << 20, dtype=torch.uint8, device="cuda")
st = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
def ev(f, iters=20):
    f(); torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True); ts = []
    for _ in range(iters):
        e0.record(); f(); e1.record(); torch.cuda.synchronize(); ts.append(e0.elapsed_time(e1) * 1000)
    ts.sort(); return ts[len(ts) // 2]
def probe(m, n, k, mode):
    # mode: vec (int8 D, alpha vector, bias, relu), scalar (int8 D, host alpha), i32 (int32 D, no epilogue)
    scale = 10 if mode == "i32" else 0
    d = ctypes.c_void_p(); assert lt.cublasLtMatmulDescCreate(ctypes.byref(d), 72, scale) == 0
    seti(d, 3, 1); seti(d, 4, 0)
    W = torch.randint(-127, 128, (m, k), dtype=torch.int8, device="cuda"); X = torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda")
    dt = 10 if mode == "i32" else 3
    D = torch.zeros((n, m), dtype=torch.int32 if mode == "i32" else torch.int8, device="cuda")
    alpha = (torch.rand(m, device="cuda") * 2 + 0.5) / (k * 40); bias = torch.randn(m, device="cuda") * 20
    if mode == "vec":
        seti(d, 2, 4); seti(d, 7, 6); seti(d, 26, 0); setp(d, 8, bias.data_ptr())
    A, B, L = layout(3, k, m, k), layout(3, k, n, k), layout(dt, m, n, m)
    pref = ctypes.c_void_p(); lt.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)); wsz = ctypes.c_uint64(32 << 20); lt.cublasLtMatmulPreferenceSetAttribute(pref, 1, ctypes.byref(wsz), 8)
    res = (ctypes.c_ubyte * (96 * 16))(); cnt = ctypes.c_int(0)
    r = lt.cublasLtMatmulAlgoGetHeuristic(h, d, A, B, L, L, pref, 16, res, ctypes.byref(cnt))
    tag = f"INT8PROBE|m={m} n={n} k={k}|{mode}"
    if r != 0 or cnt.value == 0: print(tag, "|heuristic status", r, "algorithms", cnt.value); return
    if mode == "vec": a_arg = ctypes.c_void_p(alpha.data_ptr())
    elif mode == "scalar": af = ctypes.c_float(0.01); a_arg = ctypes.byref(af)
    else: ai = ctypes.c_int32(1); a_arg = ctypes.byref(ai)
    bf = ctypes.c_float(0.0) if mode != "i32" else None; bi = ctypes.c_int32(0)
    b_arg = ctypes.byref(bi) if mode == "i32" else ctypes.byref(bf)
    outs = []
    for i in range(cnt.value):
        algo = ctypes.cast(ctypes.addressof(res) + 96 * i, ctypes.c_void_p)
        go = lambda: lt.cublasLtMatmul(h, d, a_arg, ctypes.c_void_p(W.data_ptr()), A, ctypes.c_void_p(X.data_ptr()), B, b_arg,
                                       ctypes.c_void_p(D.data_ptr()), L, ctypes.c_void_p(D.data_ptr()), L, algo, ctypes.c_void_p(ws.data_ptr()), ctypes.c_uint64(32 << 20), st)
        s = go(); torch.cuda.synchronize()
        if s != 0: outs.append(f"#{i} status {s}"); continue
        outs.append(f"#{i} {ev(go):.1f}")
    wbytes = n * m * (4 if mode == "i32" else 1) + n * k + m * k
    print(tag, f"|{cnt.value} algorithms|", " ".join(outs), f"|bytes {wbytes / 1e6:.0f} MB")
for (m, n, k) in [(256, 802816, 64), (64, 802816, 64), (64, 802816, 256), (512, 200704, 128), (1024, 50176, 256), (256, 802816, 576)]:
    for mode in ("vec", "scalar", "i32"):
        probe(m, n, k, mode)
    X = torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda"); Wt = torch.randint(-127, 128, (k, m), dtype=torch.int8, device="cuda").t().contiguous().t()
    try: print(f"INT8PROBE|m={m} n={n} k={k}|torch._int_mm|{ev(lambda: torch._int_mm(X, Wt)):.1f}")
    except Exception as e: print(f"INT8PROBE|m={m} n={n} k={k}|torch._int_mm|{e}"[:200])
    Xh, Wh = X.half(), Wt.half(); print(f"INT8PROBE|m={m} n={n} k={k}|torch fp16 matmul|{ev(lambda: torch.matmul(Xh, Wh)):.1f}")
    del X, Wt, Xh, Wh; torch.cuda.empty_cache()
