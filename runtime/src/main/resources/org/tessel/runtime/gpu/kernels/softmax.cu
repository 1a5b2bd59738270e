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

// The rest of the family over one axis of [outer, R, inner] (the axis in the middle), f32 arithmetic; every scalar a
// long long. tessel.logsoftmax: y = x - max - log(sum(exp(x - max))), as the reference (max first).
// inner == 1: one block per row, block reductions.
extern "C" __global__ void tessel_logsoftmax_rows(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R) {
    __shared__ float red[32];
    for (long long row = blockIdx.x; row < outer; row += gridDim.x) {
        const T* xr = x + row * R;
        T* yr = y + row * R;
        float m = TESSEL_NEG_INF;
        for (long long k = threadIdx.x; k < R; k += blockDim.x) m = tessel_pickmax(m, LD_T(xr, k));
        m = tessel_block_max(m, red);
        float s = 0.0f;
        for (long long k = threadIdx.x; k < R; k += blockDim.x) s += expf(LD_T(xr, k) - m);
        float ls = logf(tessel_block_sum(s, red));
        for (long long k = threadIdx.x; k < R; k += blockDim.x) ST_T(yr, k, (LD_T(xr, k) - m) - ls);
    }
}

// any inner: one thread per (o, j), three passes over the axis.
extern "C" __global__ void tessel_logsoftmax_cols(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, long long inner) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        const T* xr = x + o * R * inner + j;
        T* yr = y + o * R * inner + j;
        float m = TESSEL_NEG_INF, s = 0.0f;
        for (long long k = 0; k < R; k++) m = tessel_pickmax(m, LD_T(xr, k * inner));
        for (long long k = 0; k < R; k++) s += expf(LD_T(xr, k * inner) - m);
        float ls = logf(s);
        for (long long k = 0; k < R; k++) ST_T(yr, k * inner, (LD_T(xr, k * inner) - m) - ls);
    }
}

// the index of the extreme element along the axis: the largest (smallest when isMin), the first among equals or
// the last when selectLast; NaN counts as the extreme value (numpy's rule, the reference's).
__device__ __forceinline__ long long tessel_arg_extreme(const T* xr, long long R, long long inner, long long isMin, long long selectLast) {
    long long best = 0;
    float b = R > 0 ? LD_T(xr, 0) : 0.0f;
    for (long long k = 1; k < R; k++) {
        float v = LD_T(xr, k * inner);
        bool better;
        if (b != b) better = selectLast && v != v;
        else if (v != v) better = true;
        else better = isMin ? (v < b || (selectLast && v == b)) : (v > b || (selectLast && v == b));
        if (better) { best = k; b = v; }
    }
    return best;
}

// tessel.argmax / tessel.argmin: y [outer, inner] (i32) = the extreme's index along the axis.
extern "C" __global__ void tessel_arg_reduce(const T* __restrict__ x, int* __restrict__ y, long long outer, long long R, long long inner,
                                             long long isMin, long long selectLast) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        y[i] = (int) tessel_arg_extreme(x + o * R * inner + j, R, inner, isMin, selectLast);
    }
}

// tessel.hardmax: 1 at the first maximum along the axis, 0 elsewhere.
extern "C" __global__ void tessel_hardmax(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, long long inner) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        long long best = tessel_arg_extreme(x + o * R * inner + j, R, inner, 0, 0);
        T* yr = y + o * R * inner + j;
        for (long long k = 0; k < R; k++) ST_T(yr, k * inner, k == best ? 1.0f : 0.0f);
    }
}

// tessel.argmax / tessel.argmin of integer data (the device's i32), compared exactly.
extern "C" __global__ void tessel_arg_reduce_i32(const int* __restrict__ x, int* __restrict__ y, long long outer, long long R, long long inner,
                                                 long long isMin, long long selectLast) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        const int* xr = x + o * R * inner + j;
        long long best = 0;
        int b = xr[0];
        for (long long k = 1; k < R; k++) {
            int v = xr[k * inner];
            bool better = isMin ? (v < b || (selectLast && v == b)) : (v > b || (selectLast && v == b));
            if (better) { best = k; b = v; }
        }
        y[i] = (int) best;
    }
}
