// tessel.conv.depthwise_nhwc: depthwise 2-D convolution (one filter per channel) on NHWC data,
// one thread per output element with channels innermost, so a warp reads 32 neighbouring
// channels of one pixel. Weights are [KH][KW][C]; bias [C] may be null; the result is clamped
// to [lo, hi] (ReLU: 0, inf; ReLU6: 0, 6; none: -inf, inf). f32 accumulation. Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_depthwise_nhwc(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
        T* __restrict__ y, int N, int H, int W, int C, int OH, int OW, int KH, int KW,
        int SH, int SW, int PH, int PW, int DH, int DW, float lo, float hi) {
    long long total = (long long) N * OH * OW * C;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long o = (long long) blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        long long r = o;
        int c = (int) (r % C); r /= C;
        int ow = (int) (r % OW); r /= OW;
        int oh = (int) (r % OH); r /= OH;
        int n = (int) r;
        float acc = bias != 0 ? LD_T(bias, c) : 0.0f;
        for (int kh = 0; kh < KH; kh++) {
            int ih = oh * SH - PH + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KW; kw++) {
                int iw = ow * SW - PW + kw * DW;
                if (iw < 0 || iw >= W) continue;
                acc = fmaf(LD_T(x, (((long long) n * H + ih) * W + iw) * C + c), LD_T(w, ((long long) kh * KW + kw) * C + c), acc);
            }
        }
        ST_T(y, o, fminf(fmaxf(acc, lo), hi));
    }
}
