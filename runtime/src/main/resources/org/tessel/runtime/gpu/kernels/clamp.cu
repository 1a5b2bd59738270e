// tessel.eltwise.clip: y = min(max(x, lo), hi) elementwise (ReLU6 after a convolution whose
// fused epilogue cannot clip); x may equal y. f32 math. Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_clamp(const T* x, T* y, long long n, float lo, float hi) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        ST_T(y, i, fminf(fmaxf(LD_T(x, i), lo), hi));
}
