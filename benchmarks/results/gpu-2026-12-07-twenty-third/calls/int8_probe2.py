# Call 1's probe: cuBLASLt's requantizing INT8 matmul with a per-channel alpha vector, bias and ReLU offers 1-2
# algorithms and runs 2-2.6x slower than with a host alpha and no epilogue (8 algorithms). Which part costs: the alpha
# vector (pointer modes 4 = vector alpha, host beta; 3 = vector alpha, beta zero), the bias/ReLU epilogue, the residual
# (beta != 0), or per-channel scaling through A_SCALE_MODE = OUTER_VEC_32F (cuBLAS 12.9+'s per-row scales) instead.
import ctypes, torch
lt = ctypes.CDLL("libcublasLt.so.13"); h = ctypes.c_void_p(); assert lt.cublasLtCreate(ctypes.byref(h)) == 0
def seti(d, a, v):
    x = ctypes.c_int32(v); return lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 4)
def setp(d, a, v):
    x = ctypes.c_uint64(v); return lt.cublasLtMatmulDescSetAttribute(d, a, ctypes.byref(x), 8)
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
EPI = {"none": 1, "relu": 2, "bias": 4, "relu_bias": 6}
def probe(m, n, k, alpha_mode, epi, residual):
    d = ctypes.c_void_p(); assert lt.cublasLtMatmulDescCreate(ctypes.byref(d), 72, 0) == 0
    seti(d, 3, 1); seti(d, 4, 0)
    W = torch.randint(-127, 128, (m, k), dtype=torch.int8, device="cuda"); X = torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda")
    C = torch.randint(-127, 128, (n, m), dtype=torch.int8, device="cuda"); D = torch.zeros((n, m), dtype=torch.int8, device="cuda")
    alpha = (torch.rand(m, device="cuda") * 2 + 0.5) / (k * 40); bias = torch.randn(m, device="cuda") * 20
    tag = f"INT8PROBE2|m={m} n={n} k={k}|alpha {alpha_mode}, epilogue {epi}, residual {residual}"
    bad = []
    if alpha_mode == "vec4": bad.append(seti(d, 2, 4))
    elif alpha_mode == "vec3": bad.append(seti(d, 2, 3))
    elif alpha_mode == "outer":
        bad.append(seti(d, 31, 3)); bad.append(setp(d, 17, alpha.data_ptr()))
    bad.append(seti(d, 7, EPI[epi]))
    if EPI[epi] & 4: bad.append(seti(d, 26, 0)); bad.append(setp(d, 8, bias.data_ptr()))
    if any(bad): print(tag, "|attribute refused", bad); return
    A, B, L = layout(3, k, m, k), layout(3, k, n, k), layout(3, m, n, m)
    pref = ctypes.c_void_p(); lt.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)); wsz = ctypes.c_uint64(32 << 20); lt.cublasLtMatmulPreferenceSetAttribute(pref, 1, ctypes.byref(wsz), 8)
    res = (ctypes.c_ubyte * (96 * 16))(); cnt = ctypes.c_int(0)
    r = lt.cublasLtMatmulAlgoGetHeuristic(h, d, A, B, L, L, pref, 16, res, ctypes.byref(cnt))
    if r != 0 or cnt.value == 0: print(tag, "|heuristic status", r, "algorithms", cnt.value); return
    af = ctypes.c_float(0.01); one = ctypes.c_float(1.0)
    a_arg = ctypes.c_void_p(alpha.data_ptr()) if alpha_mode.startswith("vec") else ctypes.byref(one if alpha_mode == "outer" else af)
    bf = ctypes.c_float(0.5 if residual else 0.0)
    outs = []
    for i in range(min(cnt.value, 4)):
        algo = ctypes.cast(ctypes.addressof(res) + 96 * i, ctypes.c_void_p)
        go = lambda: lt.cublasLtMatmul(h, d, a_arg, ctypes.c_void_p(W.data_ptr()), A, ctypes.c_void_p(X.data_ptr()), B, ctypes.byref(bf),
                                       ctypes.c_void_p(C.data_ptr()), L, ctypes.c_void_p(D.data_ptr()), L, algo, ctypes.c_void_p(ws.data_ptr()), ctypes.c_uint64(32 << 20), st)
        s = go(); torch.cuda.synchronize()
        if s != 0: outs.append(f"#{i} status {s}"); continue
        outs.append(f"#{i} {ev(go):.1f}")
    check = ""
    if alpha_mode in ("vec4", "vec3", "outer"):
        ref = (X.double() @ W.double().T) * alpha.double()[None, :] + (0.5 * C.double() if residual else 0)
        if EPI[epi] & 4: ref = ref + bias.double()[None, :]
        if EPI[epi] & 2: ref = ref.clamp(min=0)
        diff = (D.double() - torch.round(ref).clamp(-128, 127)).abs().max().item()
        check = f"|max |diff| {diff:.0f} codes"
    print(tag, f"|{cnt.value} algorithms|", " ".join(outs), check)
for (m, n, k) in [(256, 802816, 64), (512, 200704, 128)]:
    for (am, epi, resid) in [("vec4", "none", False), ("vec4", "bias", False), ("vec4", "relu", False), ("vec3", "relu_bias", False), ("vec3", "none", False),
                             ("scalar", "relu_bias", False), ("scalar", "bias", False), ("scalar", "none", True), ("vec4", "relu_bias", True),
                             ("outer", "none", False), ("outer", "relu_bias", False)]:
        try: probe(m, n, k, am, epi, resid)
        except Exception as e: print(f"INT8PROBE2|m={m} n={n} k={k}|{am} {epi} {resid}|{e}"[:300])
        torch.cuda.empty_cache()
