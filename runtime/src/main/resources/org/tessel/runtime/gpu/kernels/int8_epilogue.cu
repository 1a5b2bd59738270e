// tessel.int8_epilogue: accumulators [rows, channels] (ACC: int for int32 GEMM/conv sums, float for
// cuDNN's INT8_EXT output) -> v = acc * scale[c] (+ bias[c]) (ReLU), stored through ST_OUT: int8
// requantized at out_scale (tessel_q8) or float storage. scale[c] is the host's s_act * s_weight[c].
// Needs ACC, OUT, ST_OUT(p, i, v) (which may use out_scale), TESSEL_BIAS and TESSEL_RELU (0 or 1).
extern "C" __global__ void tessel_int8_epilogue(const ACC* __restrict__ acc, const float* __restrict__ scale, const float* __restrict__ bias,
                                                OUT* __restrict__ out, float out_scale, long long rows, int channels) {
    long long n = rows * (long long) channels;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int c = (int) (i % channels);
        float v = __fmul_rn((float) acc[i], scale[c]);
#if TESSEL_BIAS
        v = __fadd_rn(v, bias[c]);
#endif
#if TESSEL_RELU
        v = v > 0.0f ? v : 0.0f;
#endif
        ST_OUT(out, i, v);
    }
}
