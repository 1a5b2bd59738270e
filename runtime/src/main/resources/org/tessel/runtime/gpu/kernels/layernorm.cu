// tessel.layernorm: y = (x - mean) / sqrt(var + eps) * gamma + beta over the last `len` elements of each row;
// tessel.rmsnorm (RMS true): y = x / sqrt(mean(x^2) + eps) * gamma, no mean subtraction and no beta. f32 arithmetic.
// gamma and beta have `len` elements; beta may be null. Needs T, LD_T, ST_T (block kernels), LD4_T, ST4_T (warp kernels).

// One block per row: LayerNorm takes the mean, then the centered variance (two passes); RMSNorm the mean of squares.
template <bool RMS>
__device__ __forceinline__ void tessel_norm_block(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                                  T* __restrict__ y, int rows, int len, float eps) {
    __shared__ float red[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + (long long) row * len;
    T* yr = y + (long long) row * len;
    float mean = 0.0f;
    if (!RMS) {
        float s = 0.0f;
        for (int i = threadIdx.x; i < len; i += blockDim.x) s += LD_T(xr, i);
        mean = tessel_block_sum(s, red) / len;
    }
    float q = 0.0f;
    for (int i = threadIdx.x; i < len; i += blockDim.x) { float d = LD_T(xr, i) - mean; q += d * d; }
    float inv = 1.0f / sqrtf(tessel_block_sum(q, red) / len + eps);
    for (int i = threadIdx.x; i < len; i += blockDim.x) {
        float v = (LD_T(xr, i) - mean) * inv * LD_T(gamma, i);
        if (!RMS && beta != 0) v += LD_T(beta, i);
        ST_T(yr, i, v);
    }
}

extern "C" __global__ void tessel_layernorm(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                            T* __restrict__ y, int rows, int len, float eps) {
    tessel_norm_block<false>(x, gamma, beta, y, rows, len, eps);
}

extern "C" __global__ void tessel_rmsnorm(const T* __restrict__ x, const T* __restrict__ gamma, T* __restrict__ y, int rows, int len, float eps) {
    tessel_norm_block<true>(x, gamma, 0, y, rows, len, eps);
}

// One warp per row for rows of at most 32 * 4 * CHUNKS elements, len a multiple of 4 and x, y, gamma, beta aligned
// for 4-element accesses: the row is read once into registers (4 elements per access), the statistics by warp
// shuffles (no shared memory, no block barrier), then written.
template <int CHUNKS, bool RMS>
__device__ __forceinline__ void tessel_norm_warp(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                                 T* __restrict__ y, int rows, int len, float eps) {
    int row = (int) ((blockIdx.x * (unsigned) blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    const T* xr = x + (long long) row * len;
    T* yr = y + (long long) row * len;
    int chunks = len >> 2;
    float v[CHUNKS][4];
    float mean = 0.0f;
#pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        int k = c * 32 + lane;
        if (k < chunks) LD4_T(xr, 4 * k, v[c]);
    }
    if (!RMS) {
        float s = 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++)
            if (c * 32 + lane < chunks) s += (v[c][0] + v[c][1]) + (v[c][2] + v[c][3]);
        mean = tessel_warp_sum(s) / len;
    }
    float q = 0.0f;
#pragma unroll
    for (int c = 0; c < CHUNKS; c++)
        if (c * 32 + lane < chunks)
            for (int e = 0; e < 4; e++) { float d = v[c][e] - mean; q += d * d; }
    float inv = 1.0f / sqrtf(tessel_warp_sum(q) / len + eps);
#pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        int k = c * 32 + lane;
        if (k < chunks) {
            float g[4], b[4] = {0.0f, 0.0f, 0.0f, 0.0f}, o[4];
            LD4_T(gamma, 4 * k, g);
            if (!RMS && beta != 0) LD4_T(beta, 4 * k, b);
            for (int e = 0; e < 4; e++) o[e] = (v[c][e] - mean) * inv * g[e] + b[e];
            ST4_T(yr, 4 * k, o);
        }
    }
}

// LayerNorm: rows of up to 1024 (8 chunks); RMSNorm: up to 2048 (16 chunks, a Llama-1B row), its one pass of
// statistics leaving registers for the longer row. LayerNorm.WARP_ROW_MAX and RMS_WARP_ROW_MAX say the same.
extern "C" __global__ void tessel_layernorm_warp(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta,
                                                 T* __restrict__ y, int rows, int len, float eps) {
    tessel_norm_warp<8, false>(x, gamma, beta, y, rows, len, eps);
}

extern "C" __global__ void tessel_rmsnorm_warp(const T* __restrict__ x, const T* __restrict__ gamma, T* __restrict__ y, int rows, int len, float eps) {
    tessel_norm_warp<16, true>(x, gamma, 0, y, rows, len, eps);
}
