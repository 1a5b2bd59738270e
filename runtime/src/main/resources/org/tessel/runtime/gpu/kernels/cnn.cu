// CNN layers of the GPU engine beyond convolutions and pools.
//
// tessel.concat: one input of a Concat, seen physically as [outer, inner] words, copied into
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

// tessel.split: up to four consecutive outputs of a Split, the input seen physically as [outer, rowIn] words
// and output j as [outer, w_j], its columns starting at `first` + w_0 + ... + w_(j-1) of each input row (word
// counts as for the concat). Unused outputs pass a null pointer and width 0. Needs W.
extern "C" __global__ void tessel_split_copy(const W* x, long long outer, long long rowIn, long long first,
                                             W* y0, long long w0, W* y1, long long w1, W* y2, long long w2, W* y3, long long w3) {
    long long total = w0 + w1 + w2 + w3;
    long long n = outer * total;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        long long o = i / total, c = i - o * total;
        W v = x[o * rowIn + first + c];
        if (c < w0) { y0[o * w0 + c] = v; continue; }
        c -= w0;
        if (c < w1) { y1[o * w1 + c] = v; continue; }
        c -= w1;
        if (c < w2) { y2[o * w2 + c] = v; continue; }
        c -= w2;
        y3[o * w3 + c] = v;
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

// tessel.pad_channels (from NCHW): the network input's reformat and the stem's channel padding in one
// pass: x NCHW [N, c, hw] (f16) to y NHWC [N*hw, 8] with channels c..7 zero; one thread per pixel,
// reads coalesced per channel, one 16-byte store.
struct __align__(16) tessel_v8 { unsigned int a, b, c, d; };
extern "C" __global__ void tessel_pad_channels_nchw8(const unsigned short* x, tessel_v8* y, long long pixels, long long hw, int c) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long p = (long long) blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += stride) {
        long long n = p / hw, s = p - n * hw;
        const unsigned short* base = x + n * c * hw + s;
        unsigned int v[8];
        #pragma unroll
        for (int k = 0; k < 8; k++) v[k] = k < c ? base[k * hw] : 0u;
        tessel_v8 o;
        o.a = v[0] | (v[1] << 16); o.b = v[2] | (v[3] << 16); o.c = v[4] | (v[5] << 16); o.d = v[6] | (v[7] << 16);
        y[p] = o;
    }
}

// tessel.stem.pad4: as tessel_pad_channels_nchw8 into NHWC [N*hw, 4] (c <= 4), channels c..3 zero, one 8-byte store.
struct __align__(8) tessel_v4 { unsigned int a, b; };
extern "C" __global__ void tessel_pad_channels_nchw4(const unsigned short* x, tessel_v4* y, long long pixels, long long hw, int c) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long p = (long long) blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += stride) {
        long long n = p / hw, s = p - n * hw;
        const unsigned short* base = x + n * c * hw + s;
        unsigned int v[4];
        #pragma unroll
        for (int k = 0; k < 4; k++) v[k] = k < c ? base[k * hw] : 0u;
        tessel_v4 o;
        o.a = v[0] | (v[1] << 16); o.b = v[2] | (v[3] << 16);
        y[p] = o;
    }
}

// tessel.stem.nhwc: the network input's reformat without padding: f16 NCHW [N, c, hw] to NHWC [N*hw, c]
// (c <= 8); one thread per pixel, reads coalesced per channel, a warp's stores cover one contiguous span.
extern "C" __global__ void tessel_nchw_to_nhwc_small(const unsigned short* x, unsigned short* y, long long pixels, long long hw, int c) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long p = (long long) blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += stride) {
        long long n = p / hw, s = p - n * hw;
        const unsigned short* base = x + n * c * hw + s;
        unsigned short* out = y + p * c;
        for (int k = 0; k < c; k++) out[k] = base[k * hw];
    }
}

// tessel.pool.max (f16 NHWC, C % 8 == 0): one thread per output pixel and 8 channels, 16-byte loads and
// store; taps outside the input are skipped (as tessel_pool2d). Output [N, OH, OW, C].
__device__ __forceinline__ void tessel_max8(float* m, tessel_v8 v) {
    unsigned int w[4] = {v.a, v.b, v.c, v.d};
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        m[2 * i] = fmaxf(m[2 * i], tessel_h2f((unsigned short) (w[i] & 0xffffu)));
        m[2 * i + 1] = fmaxf(m[2 * i + 1], tessel_h2f((unsigned short) (w[i] >> 16)));
    }
}
extern "C" __global__ void tessel_maxpool_nhwc8(const tessel_v8* __restrict__ x, tessel_v8* __restrict__ y,
        int N, int C8, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW) {
    long long total = (long long) N * OH * OW * C8;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long o = (long long) blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        long long r = o;
        int c = (int) (r % C8); r /= C8;
        int ow = (int) (r % OW); r /= OW;
        int oh = (int) (r % OH); r /= OH;
        int n = (int) r;
        float m[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) m[i] = TESSEL_NEG_INF;
        for (int kh = 0; kh < KH; kh++) {
            int ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KW; kw++) {
                int iw = ow * SW - PW + kw * DW;
                if (iw < 0 || iw >= W) continue;
                tessel_max8(m, x[(((long long) n * H + ih) * W + iw) * C8 + c]);
            }
        }
        tessel_v8 out;
        out.a = tessel_f2h(m[0]) | ((unsigned int) tessel_f2h(m[1]) << 16);
        out.b = tessel_f2h(m[2]) | ((unsigned int) tessel_f2h(m[3]) << 16);
        out.c = tessel_f2h(m[4]) | ((unsigned int) tessel_f2h(m[5]) << 16);
        out.d = tessel_f2h(m[6]) | ((unsigned int) tessel_f2h(m[7]) << 16);
        y[o] = out;
    }
}
