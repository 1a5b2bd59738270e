// tessel.fp8_epilogue: the end of an FP8 GEMM. cuBLASLt's f32 result acc [rows, channels] (already s_x * s_w * sum, its
// A/B scale pointers applied) -> v = acc (+ bias[c]) (+ e4m3 residual[i] * res_scale), then the activation (TESSEL_ACT:
// 0 none, 1 ReLU, 2 exact GELU, 3 tanh GELU, 4 Tanh), stored as E4M3 codes at out_scale (e4m3(v / out_scale), saturating),
// in the order and f32 arithmetic of the CPU engine's FP8 emulation. Needs fp8.cuh, TESSEL_BIAS, TESSEL_RESIDUAL, TESSEL_ACT.
// TESSEL_ACC_BF16: acc holds bf16 (cuBLASLt's FP8 kernels writing a 16-bit D: half the bytes of f32 through memory, and
// its fast Hopper kernels), each widened to f32 exactly. TESSEL_VEC4 (channels a multiple of 4, fewer than 2^31 groups of
// 4): a thread takes 4 consecutive elements of a row, one 16-byte (f32) or 8-byte (bf16) load of acc, one 4-byte load of
// residual codes and one 4-byte store of output codes, and a 32-bit index.
#ifndef TESSEL_ACC_BF16
#define TESSEL_ACC_BF16 0
#endif
#if TESSEL_ACC_BF16
typedef unsigned short tessel_acc_t;
__device__ __forceinline__ float tessel_acc(tessel_acc_t a) { return tessel_bf2f(a); }
#else
typedef float tessel_acc_t;
__device__ __forceinline__ float tessel_acc(tessel_acc_t a) { return a; }
#endif
__device__ __forceinline__ unsigned char tessel_fp8_epilogue_one(float v, float b, unsigned char r, float res_scale, float out_scale) {
#if TESSEL_BIAS
    v = __fadd_rn(v, b);
#endif
#if TESSEL_RESIDUAL
    v = __fadd_rn(v, __fmul_rn(tessel_e4m32f(r), res_scale));
#endif
#if TESSEL_ACT == 1
    v = v > 0.f ? v : 0.f;
#elif TESSEL_ACT == 2
    v = 0.5f * v * erfcf(-v * 0.70710678118654752f);
#elif TESSEL_ACT == 3
    v = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
#elif TESSEL_ACT == 4
    v = tanhf(v);
#endif
    return tessel_f2e4m3(__fdiv_rn(v, out_scale));
}

#if TESSEL_VEC4
extern "C" __global__ void tessel_fp8_epilogue(const tessel_acc_t* __restrict__ acc, const float* __restrict__ bias, const unsigned char* __restrict__ residual,
                                               float res_scale, unsigned char* __restrict__ out, float out_scale, long long rows, int channels) {
    const unsigned quads = (unsigned) (channels >> 2), n4 = (unsigned) rows * quads, stride = gridDim.x * blockDim.x;
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
#if TESSEL_ACC_BF16
        const uint2 ab = reinterpret_cast<const uint2*>(acc)[i];
        const float4 a = make_float4(__uint_as_float(ab.x << 16), __uint_as_float(ab.x & 0xFFFF0000u), __uint_as_float(ab.y << 16), __uint_as_float(ab.y & 0xFFFF0000u));
#else
        const float4 a = reinterpret_cast<const float4*>(acc)[i];
#endif
        const unsigned c = (i % quads) * 4;
        float4 b = make_float4(0.f, 0.f, 0.f, 0.f);
        unsigned r = 0;
#if TESSEL_BIAS
        b = *reinterpret_cast<const float4*>(bias + c);
#endif
#if TESSEL_RESIDUAL
        r = reinterpret_cast<const unsigned*>(residual)[i];
#endif
        const unsigned o = (unsigned) tessel_fp8_epilogue_one(a.x, b.x, (unsigned char) (r & 0xFFu), res_scale, out_scale)
                | (unsigned) tessel_fp8_epilogue_one(a.y, b.y, (unsigned char) ((r >> 8) & 0xFFu), res_scale, out_scale) << 8
                | (unsigned) tessel_fp8_epilogue_one(a.z, b.z, (unsigned char) ((r >> 16) & 0xFFu), res_scale, out_scale) << 16
                | (unsigned) tessel_fp8_epilogue_one(a.w, b.w, (unsigned char) (r >> 24), res_scale, out_scale) << 24;
        reinterpret_cast<unsigned*>(out)[i] = o;
    }
}
#else
extern "C" __global__ void tessel_fp8_epilogue(const tessel_acc_t* __restrict__ acc, const float* __restrict__ bias, const unsigned char* __restrict__ residual,
                                               float res_scale, unsigned char* __restrict__ out, float out_scale, long long rows, int channels) {
    long long n = rows * (long long) channels;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
#if TESSEL_BIAS
        const float b = bias[(int) (i % channels)];
#else
        const float b = 0.f;
#endif
#if TESSEL_RESIDUAL
        const unsigned char r = residual[i];
#else
        const unsigned char r = 0;
#endif
        out[i] = tessel_fp8_epilogue_one(tessel_acc(acc[i]), b, r, res_scale, out_scale);
    }
}
#endif
