// tessel.fp8_epilogue: the end of an FP8 GEMM. cuBLASLt's f32 result acc [rows, channels] (already s_x * s_w * sum, its
// A/B scale pointers applied) -> v = acc (+ bias[c]) (+ e4m3 residual[i] * res_scale), then the activation (TESSEL_ACT:
// 0 none, 1 ReLU, 2 exact GELU, 3 tanh GELU, 4 Tanh), stored as E4M3 codes at out_scale (e4m3(v / out_scale), saturating),
// in the order and f32 arithmetic of the CPU engine's FP8 emulation. Needs fp8.cuh, TESSEL_BIAS, TESSEL_RESIDUAL, TESSEL_ACT.
extern "C" __global__ void tessel_fp8_epilogue(const float* __restrict__ acc, const float* __restrict__ bias, const unsigned char* __restrict__ residual,
                                               float res_scale, unsigned char* __restrict__ out, float out_scale, long long rows, int channels) {
    long long n = rows * (long long) channels;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = acc[i];
#if TESSEL_BIAS
        v = __fadd_rn(v, bias[(int) (i % channels)]);
#endif
#if TESSEL_RESIDUAL
        v = __fadd_rn(v, __fmul_rn(tessel_e4m32f(residual[i]), res_scale));
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
        out[i] = tessel_f2e4m3(__fdiv_rn(v, out_scale));
    }
}
