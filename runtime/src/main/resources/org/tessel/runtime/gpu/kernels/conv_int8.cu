// tessel.conv_int8_dp4a: 2-D cross-correlation, int8 x NHWC [n, h, w, c] and filters KRSC [k, r, s, c]
// with c a multiple of 4 (read as packed 4-byte words, c4 = c / 4), exact int32 sums (dp4a: four
// int8 products added to an int32) into y NHWC [n, p, q, k]. One thread per output element, output
// channels fastest, so a warp shares its input pixels. Zero padding, strides and dilations.
__device__ __forceinline__ int tessel_dp4a(int a, int b, int c) { int d; asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c)); return d; }

extern "C" __global__ void tessel_conv_int8_dp4a(const int* __restrict__ x, const int* __restrict__ w, int* __restrict__ y,
                                                 int n, int h, int wd, int c4, int k, int r, int s, int p, int q,
                                                 int padH, int padW, int strideH, int strideW, int dilH, int dilW) {
    long long total = (long long) n * p * q * k;
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int kk = (int) (i % k);
        long long t = i / k;
        int oq = (int) (t % q);
        t /= q;
        int op = (int) (t % p);
        int nn = (int) (t / p);
        const int* wk = w + (long long) kk * r * s * c4;
        int acc = 0;
        for (int rr = 0; rr < r; rr++) {
            int ih = op * strideH - padH + rr * dilH;
            if (ih < 0 || ih >= h) continue;
            for (int ss = 0; ss < s; ss++) {
                int iw = oq * strideW - padW + ss * dilW;
                if (iw < 0 || iw >= wd) continue;
                const int* xp = x + (((long long) nn * h + ih) * wd + iw) * c4;
                const int* wp = wk + ((long long) rr * s + ss) * c4;
                for (int cc = 0; cc < c4; cc++) acc = tessel_dp4a(xp[cc], wp[cc], acc);
            }
        }
        y[i] = acc;
    }
}
