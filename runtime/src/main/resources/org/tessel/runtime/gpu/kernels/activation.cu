// tessel.eltwise.act: y = act(x) elementwise, the activation a convolution's (or GEMM's) epilogue cannot apply
// (cudnnConvolutionBiasActivationForward takes ReLU or identity only); x may equal y. f32 math. Needs T, LD_T, ST_T.
// op (ConvLayers.Act): 0 clamp(x, lo, hi) (Clip, ReLU6), 1 sigmoid, 2 tanh, 3 hard sigmoid max(0, min(1, a*x + b)),
// 4 hard swish x * max(0, min(1, x/6 + 1/2)), 5 leaky relu (x < 0: a*x), 6 GELU (erf), 7 GELU (tanh approximation).
extern "C" __global__ void tessel_act(const T* x, T* y, long long n, int op, float lo, float hi, float a, float b) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = LD_T(x, i), r;
        switch (op) {
            case 0: r = fminf(fmaxf(v, lo), hi); break;
            case 1: r = 1.0f / (1.0f + expf(-v)); break;
            case 2: r = tanhf(v); break;
            case 3: r = fminf(fmaxf(a * v + b, 0.0f), 1.0f); break;
            case 4: r = v * fminf(fmaxf(v * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f); break;
            case 5: r = v < 0.0f ? a * v : v; break;
            case 6: r = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
            default: r = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v))); break;
        }
        ST_T(y, i, r);
    }
}
