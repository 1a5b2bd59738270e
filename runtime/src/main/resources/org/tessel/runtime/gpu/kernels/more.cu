// Kernels of catalogue tactics beyond the CNN/transformer families: tessel.resize, tessel.reduce (every Reduce* op),
// tessel.batchnorm. Arithmetic in f32, storage T (needs T, LD_T, ST_T). Grid-stride loops.

// tessel.resize: rank-4 resize of H and W (N and C unchanged) through tap tables built on the host
// (the ONNX reference's taps): ints [h0[OH], h1[OH], wh[OH] (float bits), w0[OW], w1[OW], ww[OW] (float bits)];
// output (oh, ow) = bilinear blend of rows h0/h1 (weight wh on h1) and columns w0/w1 (weight ww on w1).
// nearest: one tap per axis (h0, w0), read as is.
extern "C" __global__ void tessel_resize(const T* __restrict__ x, T* __restrict__ y, const int* __restrict__ tab,
                                         long long total, int C, int H, int W, int OH, int OW, int nhwc, int nearest) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long n, r;
        int c, oh, ow;
        if (nhwc) { c = (int) (i % C); r = i / C; ow = (int) (r % OW); r /= OW; oh = (int) (r % OH); n = r / OH; }
        else { ow = (int) (i % OW); r = i / OW; oh = (int) (r % OH); r /= OH; c = (int) (r % C); n = r / C; }
        const int* tw = tab + 3 * OH;
        int h0 = tab[oh], w0 = tw[ow];
        long long plane = nhwc ? n * H * W * (long long) C + c : (n * C + c) * (long long) H * W;
        long long sh = nhwc ? (long long) W * C : W, sw = nhwc ? C : 1;
        float v;
        if (nearest) {
            v = LD_T(x, plane + h0 * sh + w0 * sw);
        } else {
            int h1 = tab[OH + oh], w1 = tw[OW + ow];
            float wh = __int_as_float(tab[2 * OH + oh]), ww = __int_as_float(tw[2 * OW + ow]);
            float a = LD_T(x, plane + h0 * sh + w0 * sw), b = LD_T(x, plane + h0 * sh + w1 * sw);
            float c0 = LD_T(x, plane + h1 * sh + w0 * sw), d = LD_T(x, plane + h1 * sh + w1 * sw);
            float top = (1.0f - ww) * a + ww * b, bottom = (1.0f - ww) * c0 + ww * d;
            v = (1.0f - wh) * top + wh * bottom;
        }
        ST_T(y, i, v);
    }
}

// tessel.reduce. Kinds (MoreKernels.ReduceOp): 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 sum of squares, 6 L1,
// 7 L2, 8 log-sum, 9 log-sum-exp (max first, as the reference, so exp cannot overflow). Max and min propagate NaN.
// An empty reduction (R = 0) gives the kind's identity: 0, NaN (mean), -inf, +inf, 1, ..., -inf (the logs).
__device__ __forceinline__ float tessel_red_init(long long op) {
    return op == 2 ? TESSEL_NEG_INF : op == 3 ? TESSEL_INF : op == 4 ? 1.0f : 0.0f;
}
// folds element v into acc; m is the row's maximum (log-sum-exp only)
__device__ __forceinline__ float tessel_red_step(long long op, float acc, float v, float m) {
    switch (op) {
        case 2: return tessel_pickmax(acc, v);
        case 3: return tessel_pickmin(acc, v);
        case 4: return acc * v;
        case 5: case 7: return acc + v * v;
        case 6: return acc + fabsf(v);
        case 9: return acc + expf(v - m);
        default: return acc + v;
    }
}
// combines two partial results (block reductions)
__device__ __forceinline__ float tessel_red_combine(long long op, float a, float b) {
    return op == 2 ? tessel_pickmax(a, b) : op == 3 ? tessel_pickmin(a, b) : op == 4 ? a * b : a + b;
}
__device__ __forceinline__ float tessel_red_final(long long op, float acc, float m, long long R) {
    switch (op) {
        case 1: return acc / (float) R;
        case 7: return sqrtf(acc);
        case 8: return logf(acc);
        case 9: return (m == TESSEL_INF || m == TESSEL_NEG_INF) ? m : m + logf(acc);
        default: return acc;
    }
}
// block-wide combine of partials for blockDim.x a multiple of 32; every thread gets the result
__device__ __forceinline__ float tessel_red_block(long long op, float v, float* red) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = tessel_red_combine(op, v, __shfl_xor_sync(TESSEL_FULL_MASK, v, o));
    __syncthreads();
    if (lane == 0) red[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float t = lane < nw ? red[lane] : tessel_red_init(op == 1 || op >= 5 ? 0 : op);
        for (int o = 16; o > 0; o >>= 1) t = tessel_red_combine(op, t, __shfl_xor_sync(TESSEL_FULL_MASK, t, o));
        if (lane == 0) red[0] = t;
    }
    __syncthreads();
    return red[0];
}

// over the middle axis of [outer, R, inner] with inner == 1: one block per output row (block reduction).
extern "C" __global__ void tessel_reduce_rows(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, long long op) {
    __shared__ float red[32];
    for (long long row = blockIdx.x; row < outer; row += gridDim.x) {
        const T* xr = x + row * R;
        float m = 0.0f;
        if (op == 9) {
            float t = TESSEL_NEG_INF;
            for (long long k = threadIdx.x; k < R; k += blockDim.x) t = tessel_pickmax(t, LD_T(xr, k));
            m = tessel_red_block(2, t, red);
        }
        float acc = tessel_red_init(op);
        for (long long k = threadIdx.x; k < R; k += blockDim.x) acc = tessel_red_step(op, acc, LD_T(xr, k), m);
        acc = tessel_red_block(op, acc, red);
        if (threadIdx.x == 0) ST_T(y, row, tessel_red_final(op, acc, m, R));
    }
}

// one thread per output (o, j) of [outer, R, inner], looping over R (adjacent threads read adjacent j: coalesced when inner > 1).
extern "C" __global__ void tessel_reduce_cols(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, long long inner, long long op) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        const T* xr = x + o * R * inner + j;
        float m = 0.0f;
        if (op == 9) {
            m = TESSEL_NEG_INF;
            for (long long k = 0; k < R; k++) m = tessel_pickmax(m, LD_T(xr, k * inner));
        }
        float acc = tessel_red_init(op);
        for (long long k = 0; k < R; k++) acc = tessel_red_step(op, acc, LD_T(xr, k * inner), m);
        ST_T(y, i, tessel_red_final(op, acc, m, R));
    }
}

// any set of reduced axes: one thread per output. tab holds nk kept axes then nr reduced axes (outermost first),
// 2 long longs each: extent and input stride; R = the product of the reduced extents.
extern "C" __global__ void tessel_reduce_strided(const T* __restrict__ x, T* __restrict__ y, const long long* __restrict__ tab,
                                                 long long nk, long long nr, long long total, long long R, long long op) {
    const long long* rt = tab + 2 * nk;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long rem = i, base = 0;
        for (long long a = nk - 1; a >= 0; a--) { base += (rem % tab[2 * a]) * tab[2 * a + 1]; rem /= tab[2 * a]; }
        float m = 0.0f;
        for (int pass = op == 9 ? 0 : 1; pass < 2; pass++) {
            float acc = pass == 0 ? TESSEL_NEG_INF : tessel_red_init(op);
            for (long long k = 0; k < R; k++) {
                long long r = k, off = base;
                for (long long b = nr - 1; b >= 0; b--) { off += (r % rt[2 * b]) * rt[2 * b + 1]; r /= rt[2 * b]; }
                float v = LD_T(x, off);
                acc = pass == 0 ? tessel_pickmax(acc, v) : tessel_red_step(op, acc, v, m);
            }
            if (pass == 0) m = acc;
            else ST_T(y, i, tessel_red_final(op, acc, m, R));
        }
    }
}

// integer data (the device's i32, or bool bytes): the kinds the reference computes exactly in 64 bits (0 sum, 2 max,
// 3 min, 4 prod, 5 sum of squares, 6 L1) over any axis set of the strided table (R >= 1), stored in the element type
// (i8 and u8 data reach here only in max and min, whose results are elements; bool only in max and min).
template <typename V>
__device__ __forceinline__ void tessel_reduce_exact(const V* __restrict__ x, V* __restrict__ y, const long long* __restrict__ tab,
                                                    long long nk, long long nr, long long total, long long R, long long op) {
    const long long* rt = tab + 2 * nk;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long rem = i, base = 0;
        for (long long a = nk - 1; a >= 0; a--) { base += (rem % tab[2 * a]) * tab[2 * a + 1]; rem /= tab[2 * a]; }
        unsigned long long acc = op == 4 ? 1ull : 0ull; // unsigned: wraps as Java's long arithmetic does
        long long best = 0;
        for (long long k = 0; k < R; k++) {
            long long r = k, off = base;
            for (long long b = nr - 1; b >= 0; b--) { off += (r % rt[2 * b]) * rt[2 * b + 1]; r /= rt[2 * b]; }
            long long v = x[off];
            if (k == 0) best = v;
            switch (op) {
                case 2: best = v > best ? v : best; break;
                case 3: best = v < best ? v : best; break;
                case 4: acc *= (unsigned long long) v; break;
                case 5: acc += (unsigned long long) (v * v); break;
                case 6: acc += (unsigned long long) (v < 0 ? -v : v); break;
                default: acc += (unsigned long long) v; break;
            }
        }
        long long out = op == 2 || op == 3 ? best : (long long) acc;
        y[i] = (V) out;
    }
}
extern "C" __global__ void tessel_reduce_strided_i32(const int* __restrict__ x, int* __restrict__ y, const long long* __restrict__ tab,
                                                     long long nk, long long nr, long long total, long long R, long long op) {
    tessel_reduce_exact<int>(x, y, tab, nk, nr, total, R, op);
}
extern "C" __global__ void tessel_reduce_strided_bool(const unsigned char* __restrict__ x, unsigned char* __restrict__ y, const long long* __restrict__ tab,
                                                      long long nk, long long nr, long long total, long long R, long long op) {
    tessel_reduce_exact<unsigned char>(x, y, tab, nk, nr, total, R, op);
}

// tessel.batchnorm (inference): y = x * a[c] + b[c], a = scale / sqrt(var + eps), b = bias - mean * a (f32, from the host).
extern "C" __global__ void tessel_batchnorm(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ a, const float* __restrict__ b,
                                            long long total, int C, long long inner, int nhwc) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int c = nhwc ? (int) (i % C) : (int) ((i / inner) % C);
        ST_T(y, i, fmaf(LD_T(x, i), a[c], b[c]));
    }
}
