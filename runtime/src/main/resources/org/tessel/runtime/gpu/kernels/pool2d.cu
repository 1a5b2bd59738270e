// tessel.pool.max / tessel.pool.avg: 2-D pooling, one thread per output element, NCHW or NHWC
// (NHWC puts channels innermost so neighbouring threads read neighbouring channels). Taps outside
// the input are skipped; average pooling divides by the taps inside the input, or with
// include_pad by the taps inside the explicitly padded extent [-pad_begin, in + pad_end).
// Needs T, LD_T, ST_T, and POOL_MAX or POOL_AVG, and LAYOUT_NHWC or LAYOUT_NCHW.
extern "C" __global__ void tessel_pool2d(const T* __restrict__ x, T* __restrict__ y,
        int N, int C, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW,
        int PH, int PW, int PHE, int PWE, int DH, int DW, int include_pad) {
    long long total = (long long) N * C * OH * OW;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long o = (long long) blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        long long r = o;
#ifdef LAYOUT_NHWC
        int c = (int) (r % C); r /= C;
        int ow = (int) (r % OW); r /= OW;
        int oh = (int) (r % OH); r /= OH;
        int n = (int) r;
#else
        int ow = (int) (r % OW); r /= OW;
        int oh = (int) (r % OH); r /= OH;
        int c = (int) (r % C); r /= C;
        int n = (int) r;
#endif
        float acc =
#ifdef POOL_MAX
            TESSEL_NEG_INF;
#else
            0.0f;
#endif
        int inside = 0;
        for (int kh = 0; kh < KH; kh++) {
            int ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KW; kw++) {
                int iw = ow * SW - PW + kw * DW;
                if (iw < 0 || iw >= W) continue;
#ifdef LAYOUT_NHWC
                float v = LD_T(x, (((long long) n * H + ih) * W + iw) * C + c);
#else
                float v = LD_T(x, (((long long) n * C + c) * H + ih) * W + iw);
#endif
#ifdef POOL_MAX
                acc = fmaxf(acc, v);
#else
                acc += v;
#endif
                inside++;
            }
        }
#ifdef POOL_AVG
        int div = inside;
        if (include_pad) {
            int ch = 0, cw = 0;
            for (int kh = 0; kh < KH; kh++) { int ih = oh * SH - PH + kh * DH; if (ih >= -PH && ih < H + PHE) ch++; }
            for (int kw = 0; kw < KW; kw++) { int iw = ow * SW - PW + kw * DW; if (iw >= -PW && iw < W + PWE) cw++; }
            div = ch * cw;
        }
        acc = div == 0 ? 0.0f : acc / div;
#endif
        ST_T(y, o, acc);
    }
}
