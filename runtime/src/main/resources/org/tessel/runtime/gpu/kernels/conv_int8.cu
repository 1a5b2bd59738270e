// tessel.conv.int8_dp4a: 2-D cross-correlation, int8 x NHWC [n, h, w, c] and filters KRSC [k, r, s, c]
// with c a multiple of 4 (read as packed 4-byte words, c4 = c / 4), exact int32 sums into y NHWC
// [n, p, q, k]. The products go through CUDA's __dp4a intrinsic (four int8 products added to an
// int32; one IDP4A instruction from sm_61 on; the emulated device's shim has a C version), so the
// source has no inline PTX. Zero padding (padH/padW are the leading pads: the trailing ones only
// decide p and q, so pads may be asymmetric), strides and dilations.
// The direct form: one thread per output element, output channels fastest, so a warp shares its input pixels.
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
                for (int cc = 0; cc < c4; cc++) acc = __dp4a(xp[cc], wp[cc], acc);
            }
        }
        y[i] = acc;
    }
}

// The tiled form: the same convolution as an implicit GEMM. Rows are output pixels
// (n, p, q), columns output channels, the contraction runs over (r, s, c4) in 4-byte words. A block
// of 256 threads computes a 64-pixel x 64-channel tile, each thread 4 x 4 of it; 8 words of the
// contraction at a time are staged in shared memory (x words of 64 pixels, filter words of 64
// channels; taps outside the padded input and words past the end read as 0).
#define TESSEL_C8_BM 64
#define TESSEL_C8_BN 64
#define TESSEL_C8_BK 8
extern "C" __global__ void __launch_bounds__(256) tessel_conv_int8_dp4a_tiled(const int* __restrict__ x, const int* __restrict__ w, int* __restrict__ y,
        int n, int h, int wd, int c4, int k, int r, int s, int p, int q, int padH, int padW, int strideH, int strideW, int dilH, int dilW) {
    __shared__ __align__(16) int As[TESSEL_C8_BK][TESSEL_C8_BM];
    __shared__ __align__(16) int Bs[TESSEL_C8_BK][TESSEL_C8_BN];
    const long long rows = (long long) n * p * q;
    const int kw = r * s * c4;
    const long long m0 = (long long) blockIdx.x * TESSEL_C8_BM;
    const int n0 = blockIdx.y * TESSEL_C8_BN;
    const int t = threadIdx.x, tx = t % 16, ty = t / 16;
    int acc[4][4];
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        #pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0;
    }
    // each thread stages two words of A and two of B per step: element e = t + 256 * l, word kk = e % BK of row e / BK
    int aPix[2], aN[2], aH0[2], aW0[2];
    #pragma unroll
    for (int l = 0; l < 2; l++) {
        long long m = m0 + (t + 256 * l) / TESSEL_C8_BK;
        if (m < rows) {
            int oq = (int) (m % q);
            long long u = m / q;
            int op = (int) (u % p);
            aN[l] = (int) (u / p);
            aH0[l] = op * strideH - padH;
            aW0[l] = oq * strideW - padW;
            aPix[l] = 1;
        } else {
            aN[l] = 0; aH0[l] = 0; aW0[l] = 0; aPix[l] = 0;
        }
    }
    // this thread's contraction word is k0 + kk (kk = t % BK for both of its rows, 256 being a multiple of BK): its
    // channel word cw and filter tap (rr, ss) advance by BK words a step, carried without a division
    const int kk0 = t % TESSEL_C8_BK;
    int cw = kk0 % c4, ss = (kk0 / c4) % s, rr = kk0 / c4 / s;
    for (int k0 = 0; k0 < kw; k0 += TESSEL_C8_BK) {
        const int word = k0 + kk0;
        #pragma unroll
        for (int l = 0; l < 2; l++) {
            const int row = (t + 256 * l) / TESSEL_C8_BK;
            int av = 0;
            if (aPix[l] && word < kw) {
                int ih = aH0[l] + rr * dilH, iw = aW0[l] + ss * dilW;
                if (ih >= 0 && ih < h && iw >= 0 && iw < wd) av = x[(((long long) aN[l] * h + ih) * wd + iw) * c4 + cw];
            }
            As[kk0][row] = av;
            int oc = n0 + row;
            Bs[kk0][row] = (oc < k && word < kw) ? w[(long long) oc * kw + word] : 0;
        }
        cw += TESSEL_C8_BK;
        while (cw >= c4) {
            cw -= c4;
            if (++ss == s) { ss = 0; rr++; }
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < TESSEL_C8_BK; kk++) {
            int4 a4 = *reinterpret_cast<const int4*>(&As[kk][ty * 4]);
            int4 b4 = *reinterpret_cast<const int4*>(&Bs[kk][tx * 4]);
            int a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                #pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        long long m = m0 + ty * 4 + i;
        if (m >= rows) continue;
        #pragma unroll
        for (int j = 0; j < 4; j++) {
            int oc = n0 + tx * 4 + j;
            if (oc < k) y[m * k + oc] = acc[i][j];
        }
    }
}
