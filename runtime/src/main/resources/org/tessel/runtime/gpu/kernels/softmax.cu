// tessel.softmax: softmax over the last axis; one block per row, three passes over the row
// (max, sum of exponentials, write), arithmetic in f32. Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_softmax(const T* __restrict__ x, T* __restrict__ y, int rows, int len) {
    __shared__ float red[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + (long long) row * len;
    T* yr = y + (long long) row * len;
    float m = TESSEL_NEG_INF;
    for (int i = threadIdx.x; i < len; i += blockDim.x) m = fmaxf(m, LD_T(xr, i));
    m = tessel_block_max(m, red);
    float s = 0.0f;
    for (int i = threadIdx.x; i < len; i += blockDim.x) s += expf(LD_T(xr, i) - m);
    s = tessel_block_sum(s, red);
    float inv = 1.0f / s;
    for (int i = threadIdx.x; i < len; i += blockDim.x) ST_T(yr, i, expf(LD_T(xr, i) - m) * inv);
}
