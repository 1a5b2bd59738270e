# BERT-base b32's FFN bias + exact GELU ([4096, 3072] f16, bias [3072]) as Tessel's generated kernel (gelu_v0.cu,
# EltwiseCodegen's output for Add + Gelu at FP16) against variants, to see what bounds it: 16-byte accesses, the bias
# read as a vector, the tanh form instead of erff, a plain copy (the bandwidth bound). CUDA events, median of 50.
import cupy as cp, numpy as np, os, sys
here = os.path.dirname(os.path.abspath(__file__))
src0 = open(os.path.join(here, "gelu_v0.cu")).read()
pre = src0[:src0.index("// tessel.eltwise.fused generated")]
variants = pre + r'''
__device__ __forceinline__ void ld8(const unsigned short* p, long long i, float* v) {
    uint4 t = *reinterpret_cast<const uint4*>(p + i);
    unsigned w[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
    for (int k = 0; k < 4; k++) { v[2*k] = tessel_h2f((unsigned short)(w[k] & 0xffffu)); v[2*k+1] = tessel_h2f((unsigned short)(w[k] >> 16)); }
}
__device__ __forceinline__ void st8(unsigned short* p, long long i, const float* v) {
    uint4 t; unsigned* w = reinterpret_cast<unsigned*>(&t);
#pragma unroll
    for (int k = 0; k < 4; k++) w[k] = (unsigned) tessel_f2h(v[2*k]) | ((unsigned) tessel_f2h(v[2*k+1]) << 16);
    *reinterpret_cast<uint4*>(p + i) = t;
}
template <int MODE>
__device__ __forceinline__ float act(float t) {
    if (MODE == 0) return 0.5f * t * (1.0f + erff(t * 0.70710678118654752f));
    if (MODE == 1) return t / (1.0f + __expf(-2.0f * 0.79788456080286536f * (t + 0.044715f * t * t * t)));
    if (MODE == 2) return t * normcdff(t);
    return t;
}
template <int MODE>
__device__ void vec8(const unsigned short* __restrict__ x, const unsigned short* __restrict__ b, unsigned short* __restrict__ y, long long n, int cols) {
    const int stride = gridDim.x * blockDim.x;
    const int nvec = (int)(n / 8);
    for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < nvec; v += stride) {
        int i0 = v * 8;
        float a[8], c[8], o[8];
        ld8(x, i0, a); ld8(b, i0 % cols, c);
#pragma unroll
        for (int e = 0; e < 8; e++) o[e] = act<MODE>(a[e] + c[e]);
        st8(y, i0, o);
    }
}
extern "C" __global__ void v8_erf(const unsigned short* x, const unsigned short* b, unsigned short* y, long long n, int cols) { vec8<0>(x, b, y, n, cols); }
extern "C" __global__ void v8_tanh(const unsigned short* x, const unsigned short* b, unsigned short* y, long long n, int cols) { vec8<1>(x, b, y, n, cols); }
extern "C" __global__ void v8_normcdf(const unsigned short* x, const unsigned short* b, unsigned short* y, long long n, int cols) { vec8<2>(x, b, y, n, cols); }
extern "C" __global__ void v8_add(const unsigned short* x, const unsigned short* b, unsigned short* y, long long n, int cols) { vec8<3>(x, b, y, n, cols); }
extern "C" __global__ void copy16(const uint4* x, uint4* y, long long n16) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n16; i += (long long) gridDim.x * blockDim.x) y[i] = x[i];
}
'''
m0 = cp.RawModule(code=src0, options=("-arch=sm_90",))
m1 = cp.RawModule(code=variants, options=("-arch=sm_90",))
rows, cols = 4096, 3072
n = rows * cols
x = (cp.random.standard_normal(n, dtype=cp.float32) * 2).astype(cp.float16)
b = (cp.random.standard_normal(cols, dtype=cp.float32) * 0.1).astype(cp.float16)
y = cp.empty(n, dtype=cp.float16)
xs, bs, ys = x.view(cp.uint16), b.view(cp.uint16), y.view(cp.uint16)
def timed(f, reps=50):
    for _ in range(5): f()
    ts = []
    for _ in range(reps):
        s, e = cp.cuda.Event(), cp.cuda.Event(); s.record(); f(); e.record(); e.synchronize(); ts.append(cp.cuda.get_elapsed_time(s, e) * 1000)
    return float(np.median(ts))
B = 256
res = []
k0 = m0.get_function("tessel_eltwise_fused_vec4")
grid0 = min((n // 4 + B - 1) // B, 65536 * 8)
res.append(("tessel codegen vec4 (now)", timed(lambda: k0((grid0,), (B,), (xs, bs, ys, cp.int64(n))))))
want = cp.asnumpy(y).astype(np.float32)
for name in ("v8_erf", "v8_normcdf", "v8_tanh", "v8_add"):
    k = m1.get_function(name)
    for g in (min((n // 8 + B - 1) // B, 1 << 20), 132 * 16):
        res.append((f"{name} grid {g}", timed(lambda: k((g,), (B,), (xs, bs, ys, cp.int64(n), cp.int32(cols))))))
    if name in ("v8_erf", "v8_normcdf"):
        got = cp.asnumpy(y).astype(np.float32); res.append((f"  {name} max |diff| vs codegen (f16 codes)", float(np.abs(got - want).max())))
kc = m1.get_function("copy16")
res.append(("copy 25 MB (uint4)", timed(lambda: kc((min(n // 8 // B, 1 << 20),), (B,), (x, y, cp.int64(n // 8))))))
for r in res: print(f"GELU|{r[0]}|{r[1]:.2f}")
print(f"GELU|bytes moved (x read + y written)|{2 * n * 2 / 1e6:.1f} MB")
