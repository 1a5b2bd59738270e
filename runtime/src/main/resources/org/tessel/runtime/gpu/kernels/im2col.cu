// tessel.im2col: an NHWC input x [N, H, W, C] gathered into the row-major matrix col [mpad, kpad] a GEMM multiplies
// with the filters [Cout, kpad]: row r = (b * OH + oy) * OW + ox is one output pixel, column j = (ky * KW + kx) * C + ch
// one filter tap's input channel, reading x[b, oy*sh - pt + ky*dh, ox*sw - pl + kx*dw, ch]. Padding positions, the
// columns from k = KH*KW*C up to kpad and the rows from m up to mpad are zero bytes (+0.0 in E4M3, f16 and bf16). The
// kernel moves bytes: c, k and kpad are given in bytes (elements times their size), so it serves E4M3 codes and 16-bit
// values alike, copied, not converted. Each thread moves TESSEL_VEC bytes (16, 4 or 1, a divisor of a pixel's bytes, so a
// chunk never crosses a tap; the host checks the buffers' alignment). Grid-stride loop over mpad * kpad / TESSEL_VEC.
#if TESSEL_VEC == 16
typedef uint4 V;
#elif TESSEL_VEC == 4
typedef unsigned int V;
#else
typedef unsigned char V;
#endif

extern "C" __global__ void tessel_im2col(const unsigned char* __restrict__ x, unsigned char* __restrict__ col, int h, int w, int c, int oh, int ow,
                                             int kw, int sh, int sw, int pt, int pl, int dh, int dw, int k, int kpad, long long m, long long mpad) {
    long long chunks = kpad / TESSEL_VEC;
    long long total = mpad * chunks;
    V* out = reinterpret_cast<V*>(col);
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long row = i / chunks;
        int j = (int) (i - row * chunks) * TESSEL_VEC;
        V v = V();
        if (row < m && j < k) {
            int tap = j / c, ch = j - tap * c;
            int ky = tap / kw, kx = tap - ky * kw;
            long long ox = row % ow, t = row / ow;
            long long oy = t % oh, b = t / oh;
            long long iy = oy * sh - pt + (long long) ky * dh, ix = ox * sw - pl + (long long) kx * dw;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = *reinterpret_cast<const V*>(x + ((b * h + iy) * w + ix) * c + ch);
        }
        out[i] = v;
    }
}
