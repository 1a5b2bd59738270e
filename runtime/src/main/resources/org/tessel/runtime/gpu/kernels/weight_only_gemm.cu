// tessel.gemm.weight_only: tessel.WeightOnlyMatMul for any number of activation rows (prefill),
// y[m, n] = sum_k x[m, k] * ((code[n, k] - zero[n, g]) * scale[n, g]), g = k / group, in WeightQuantizer's layout:
// x and y in the activation type T, scales in their stored type S, codes [N, K] i8 (WO_BITS 8; u8 with zero points)
// or [N, K/2] u8 two a byte, even k in the low nibble (WO_BITS 4; implicit zero 8 without zero points).
// A 16x16 thread block computes a 64x64 tile of y, each thread 4x4 outputs (rows ty + 16 i, columns tx + 16 j, so
// shared-memory reads are conflict-free and stores coalesced). K goes in slices of 32: the block loads the slice of A
// and dequantizes the slice of W once into shared memory (f32), shared by the tile's 64 rows. Each output adds its
// products in k order, (code - zero) * scale first, as the CPU kernel does. Any K (bounds-checked loads).
#ifndef WO_BITS
#define WO_BITS 4
#endif
#define WQ_BM 64
#define WQ_BN 64
#define WQ_BK 32

extern "C" __global__ void __launch_bounds__(256)
tessel_gemm_wo(const T* __restrict__ x, const unsigned char* __restrict__ w, const S* __restrict__ scales,
               const unsigned char* __restrict__ zeros, T* __restrict__ y, int m, int n, int k, int group) {
    __shared__ float As[WQ_BK][WQ_BM + 1];
    __shared__ float Ws[WQ_BK][WQ_BN + 1];
    const int tid = threadIdx.y * 16 + threadIdx.x, tx = threadIdx.x, ty = threadIdx.y;
    const int rowBase = blockIdx.y * WQ_BM, colBase = blockIdx.x * WQ_BN;
    const int groups = k / group, rowBytes = WO_BITS == 4 ? k / 2 : k;
    float acc[4][4];
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (int k0 = 0; k0 < k; k0 += WQ_BK) {
        // consecutive threads take consecutive k of one row: coalesced reads of A and of the codes
        for (int e = tid; e < WQ_BM * WQ_BK; e += 256) {
            const int r = e / WQ_BK, kk = e % WQ_BK, gr = rowBase + r, gk = k0 + kk;
            As[kk][r] = gr < m && gk < k ? LD_T(x, (long long) gr * k + gk) : 0.0f;
        }
        for (int e = tid; e < WQ_BN * WQ_BK; e += 256) {
            const int c = e / WQ_BK, kk = e % WQ_BK, gc = colBase + c, gk = k0 + kk;
            float v = 0.0f;
            if (gc < n && gk < k) {
#if WO_BITS == 4
                const unsigned char b = w[(long long) gc * rowBytes + (gk >> 1)];
                const int q = (gk & 1) ? b >> 4 : b & 15;
#else
                const unsigned char b = w[(long long) gc * rowBytes + gk];
                const int q = zeros ? (int) b : (int) (signed char) b;
#endif
                const long long gi = (long long) gc * groups + gk / group;
                const int z = zeros ? (int) zeros[gi] : (WO_BITS == 4 ? 8 : 0);
                v = (float) (q - z) * LD_S(scales, gi);
            }
            Ws[kk][c] = v;
        }
        __syncthreads();
        for (int kk = 0; kk < WQ_BK; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i];
            for (int j = 0; j < 4; j++) b[j] = Ws[kk][tx + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        const int row = rowBase + ty + 16 * i;
        if (row >= m) continue;
        for (int j = 0; j < 4; j++) {
            const int col = colBase + tx + 16 * j;
            if (col < n) ST_T(y, (long long) row * n + col, acc[i][j]);
        }
    }
}
