// tessel.quantize_fp8: float storage -> E4M3 codes at one per-tensor scale, e4m3(x / scale) (an f32 division, as ONNX's
// QuantizeLinear into float8 divides), saturating. Needs S, LD_S and fp8.cuh.
extern "C" __global__ void tessel_quantize_fp8(const S* __restrict__ in, unsigned char* __restrict__ out, float scale, long long n) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = tessel_f2e4m3(__fdiv_rn(LD_S(in, i), scale));
}

// tessel.dequantize_fp8: E4M3 codes -> float storage, value * scale (one f32 multiply, then the storage rounding). Needs D, ST_D.
extern "C" __global__ void tessel_dequantize_fp8(const unsigned char* __restrict__ in, D* __restrict__ out, float scale, long long n) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) ST_D(out, i, __fmul_rn(tessel_e4m32f(in[i]), scale));
}
