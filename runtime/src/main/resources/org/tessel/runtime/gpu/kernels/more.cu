// Kernels of catalogue tactics beyond the CNN/transformer families: tessel.resize, tessel.reduce,
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

// tessel.reduce over the middle axis of [outer, R, inner]; op 0 sum, 1 mean, 2 max.
// inner == 1: one block per output row (block reduction); blockDim.x a multiple of 32.
extern "C" __global__ void tessel_reduce_rows(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, int op) {
    __shared__ float red[32];
    for (long long row = blockIdx.x; row < outer; row += gridDim.x) {
        const T* xr = x + row * R;
        float acc = op == 2 ? TESSEL_NEG_INF : 0.0f;
        for (long long k = threadIdx.x; k < R; k += blockDim.x) {
            float v = LD_T(xr, k);
            acc = op == 2 ? tessel_pickmax(acc, v) : acc + v;
        }
        acc = op == 2 ? tessel_block_max(acc, red) : tessel_block_sum(acc, red);
        if (threadIdx.x == 0) ST_T(y, row, op == 1 ? acc / (float) R : acc);
    }
}

// one thread per output (o, j), looping over R (adjacent threads read adjacent j: coalesced when inner > 1).
extern "C" __global__ void tessel_reduce_cols(const T* __restrict__ x, T* __restrict__ y, long long outer, long long R, long long inner, int op) {
    long long total = outer * inner;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long o = i / inner, j = i % inner;
        const T* xr = x + o * R * inner + j;
        float acc = op == 2 ? TESSEL_NEG_INF : 0.0f;
        for (long long k = 0; k < R; k++) {
            float v = LD_T(xr, k * inner);
            acc = op == 2 ? tessel_pickmax(acc, v) : acc + v;
        }
        ST_T(y, i, op == 1 ? acc / (float) R : acc);
    }
}

// tessel.batchnorm (inference): y = x * a[c] + b[c], a = scale / sqrt(var + eps), b = bias - mean * a (f32, from the host).
extern "C" __global__ void tessel_batchnorm(const T* __restrict__ x, T* __restrict__ y, const float* __restrict__ a, const float* __restrict__ b,
                                            long long total, int C, long long inner, int nhwc) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int c = nhwc ? (int) (i % C) : (int) ((i / inner) % C);
        ST_T(y, i, fmaf(LD_T(x, i), a[c], b[c]));
    }
}
