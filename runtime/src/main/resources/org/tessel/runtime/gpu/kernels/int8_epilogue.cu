// tessel.int8_epilogue: accumulators [rows, channels] (ACC: int for int32 GEMM/conv sums, float for
// cuDNN's INT8_EXT output) -> v = acc * scale[c] (+ bias[c]) (+ residual[i] * res_scale) (clamped to
// [lo, hi]: ReLU is [0, inf), Clip its bounds), stored through ST_OUT: int8 requantized at out_scale
// (tessel_q8) or float storage. scale[c] is the host's s_act * s_weight[c]; the residual is int8 codes.
// Needs ACC, OUT, ST_OUT(p, i, v) (which may use out_scale), TESSEL_BIAS, TESSEL_RESIDUAL, TESSEL_CLAMP (0 or 1).
extern "C" __global__ void tessel_int8_epilogue(const ACC* __restrict__ acc, const float* __restrict__ scale, const float* __restrict__ bias,
                                                const signed char* __restrict__ residual, float res_scale, float lo, float hi,
                                                OUT* __restrict__ out, float out_scale, long long rows, int channels) {
    long long n = rows * (long long) channels;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int c = (int) (i % channels);
        float v = __fmul_rn((float) acc[i], scale[c]);
#if TESSEL_BIAS
        v = __fadd_rn(v, bias[c]);
#endif
#if TESSEL_RESIDUAL
        v = __fadd_rn(v, __fmul_rn((float) residual[i], res_scale));
#endif
#if TESSEL_CLAMP
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
#endif
        ST_OUT(out, i, v);
    }
}
