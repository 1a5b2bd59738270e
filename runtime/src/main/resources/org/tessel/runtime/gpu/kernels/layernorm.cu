// tessel.layernorm: y = (x - mean) / sqrt(var + eps) * gamma + beta over the last `len` elements
// of each row; one block per row, mean then centered variance (two passes), f32 arithmetic.
// gamma and beta have `len` elements; beta may be null. Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_layernorm(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                            T* __restrict__ y, int rows, int len, float eps) {
    __shared__ float red[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + (long long) row * len;
    T* yr = y + (long long) row * len;
    float s = 0.0f;
    for (int i = threadIdx.x; i < len; i += blockDim.x) s += LD_T(xr, i);
    float mean = tessel_block_sum(s, red) / len;
    float q = 0.0f;
    for (int i = threadIdx.x; i < len; i += blockDim.x) { float d = LD_T(xr, i) - mean; q += d * d; }
    float var = tessel_block_sum(q, red) / len;
    float inv = 1.0f / sqrtf(var + eps);
    for (int i = threadIdx.x; i < len; i += blockDim.x) {
        float v = (LD_T(xr, i) - mean) * inv * LD_T(gamma, i);
        if (beta != 0) v += LD_T(beta, i);
        ST_T(yr, i, v);
    }
}
