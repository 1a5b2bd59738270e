// tessel.quantize_i8: float storage -> int8 codes at one per-tensor scale (see tessel_q8). Needs S, LD_S.
extern "C" __global__ void tessel_quantize_i8(const S* __restrict__ in, signed char* __restrict__ out, float scale, long long n) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = tessel_q8(LD_S(in, i), scale);
}

// tessel.dequantize_i8: int8 codes -> float storage, code * scale (one f32 multiply, then the storage rounding). Needs D, ST_D.
extern "C" __global__ void tessel_dequantize_i8(const signed char* __restrict__ in, D* __restrict__ out, float scale, long long n) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) ST_D(out, i, __fmul_rn((float) in[i], scale));
}
