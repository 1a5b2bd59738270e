// CNN layers of the GPU engine beyond convolutions and pools.
//
// tessel.concat.copy: one input of a Concat, seen physically as [outer, inner] words, copied into
// the output [outer, rowOut] at column `offset` (all counts in words of type W, which the host picks
// as the widest of 16/8/4/2 bytes that divides the row sizes, the offset and both addresses).
// Needs W.
extern "C" __global__ void tessel_concat_copy(const W* x, W* y, long long outer, long long inner, long long rowOut, long long offset) {
    long long n = outer * inner;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        long long o = i / inner, k = i - o * inner;
        y[o * rowOut + offset + k] = x[i];
    }
}

// tessel.lrn: ONNX LRN across channels, y = x / (bias + alpha / size * sum of x^2 over the window)^beta,
// window [c - (size-1)/2, c + size-1-(size-1)/2] clipped to [0, C). Logical [N, C, inner] with
// inner = H*W; nhwc != 0: physical [N, inner, C]. f32 math. Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_lrn(const T* x, T* y, long long n, int C, long long inner, int nhwc, int size,
                                      float alphaOverSize, float beta, float bias) {
    int before = (size - 1) / 2, after = size - 1 - before;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int c;
        long long cstride, base;
        if (nhwc) { c = (int) (i % C); cstride = 1; base = i - c; }
        else { long long j = i % inner; c = (int) ((i / inner) % C); cstride = inner; base = i - (long long) c * inner; }
        int lo = max(0, c - before), hi = min(C - 1, c + after);
        float sq = 0.0f;
        for (int q = lo; q <= hi; q++) { float e = LD_T(x, base + q * cstride); sq += e * e; }
        float v = LD_T(x, i);
        ST_T(y, i, v * powf(bias + alphaOverSize * sq, -beta));
    }
}

// tessel.pad_channels: f16 NHWC [pixels, c] copied into [pixels, cp] with channels c..cp-1 zero.
extern "C" __global__ void tessel_pad_channels(const unsigned short* x, unsigned short* y, long long pixels, int c, int cp) {
    long long n = pixels * cp;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        long long p = i / cp;
        int k = (int) (i - p * cp);
        y[i] = k < c ? x[p * c + k] : (unsigned short) 0;
    }
}
