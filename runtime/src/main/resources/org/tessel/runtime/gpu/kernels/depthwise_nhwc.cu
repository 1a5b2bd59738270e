// tessel.conv.depthwise_nhwc: depthwise 2-D convolution (one filter per channel) on NHWC data. A thread computes DW_V
// consecutive channels of one output pixel, channel vectors innermost, so a warp's loads of one tap are one stretch of
// a pixel's channels: DW_V 8 (16-bit T, C a multiple of 8, 16-byte aligned tensors: the host checks) loads a tap's 8
// inputs and 8 weights with one 16-byte load each; DW_V 1 element by element. Weights are [KH][KW][C] (L1-resident);
// bias [C] may be null; the result is clamped to [lo, hi] (ReLU: 0, inf; ReLU6: 0, 6; none: -inf, inf). f32
// accumulation over the taps in (kh, kw) order. Index arithmetic in 32 bits: the host refuses N * OH * OW * C / DW_V
// of 2^31 or more. Needs T, LD_T, ST_T and DW_V.
#ifndef DW_V
#define DW_V 1
#endif
#if DW_V == 8
// 8 16-bit elements from p (16-byte aligned) as f32
__device__ __forceinline__ void tessel_dw_load8(const T* p, float* f) {
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    const unsigned short h[8] = {(unsigned short) (u.x & 0xFFFFu), (unsigned short) (u.x >> 16), (unsigned short) (u.y & 0xFFFFu), (unsigned short) (u.y >> 16),
                                 (unsigned short) (u.z & 0xFFFFu), (unsigned short) (u.z >> 16), (unsigned short) (u.w & 0xFFFFu), (unsigned short) (u.w >> 16)};
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = LD_T(h, j);
}
#endif

extern "C" __global__ void __launch_bounds__(256)
tessel_depthwise_nhwc(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
        T* __restrict__ y, int N, int H, int W, int C, int OH, int OW, int KH, int KW,
        int SH, int SW, int PH, int PW, int DH, int DW, float lo, float hi) {
    const int CV = C / DW_V, total = N * OH * OW * CV, stride = gridDim.x * blockDim.x;
    for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        int r = o;
        const int cv = r % CV; r /= CV;
        const int ow = r % OW; r /= OW;
        const int oh = r % OH;
        const int n = r / OH, c0 = cv * DW_V;
        float acc[DW_V];
#pragma unroll
        for (int j = 0; j < DW_V; j++) acc[j] = bias != 0 ? LD_T(bias, c0 + j) : 0.0f;
        const int ih0 = oh * SH - PH, iw0 = ow * SW - PW;
        for (int kh = 0; kh < KH; kh++) {
            const int ih = ih0 + kh * DH;
            if (ih < 0 || ih >= H) continue;
            const T* row = x + ((long long) n * H + ih) * W * C + c0;
            const T* wrow = w + (long long) kh * KW * C + c0;
            for (int kw = 0; kw < KW; kw++) {
                const int iw = iw0 + kw * DW;
                if (iw < 0 || iw >= W) continue;
#if DW_V == 8
                float xv[8], wv[8];
                tessel_dw_load8(row + (long long) iw * C, xv);
                tessel_dw_load8(wrow + kw * C, wv);
#pragma unroll
                for (int j = 0; j < 8; j++) acc[j] = fmaf(xv[j], wv[j], acc[j]);
#else
                acc[0] = fmaf(LD_T(row, (long long) iw * C), LD_T(wrow, kw * C), acc[0]);
#endif
            }
        }
        T* out = y + (long long) o * DW_V;
#if DW_V == 8
        unsigned short h[8];
#pragma unroll
        for (int j = 0; j < 8; j++) ST_T(h, j, fminf(fmaxf(acc[j], lo), hi));
        *reinterpret_cast<uint4*>(out) = make_uint4(h[0] | ((unsigned) h[1] << 16), h[2] | ((unsigned) h[3] << 16), h[4] | ((unsigned) h[5] << 16), h[6] | ((unsigned) h[7] << 16));
#else
        ST_T(out, 0, fminf(fmaxf(acc[0], lo), hi));
#endif
    }
}
