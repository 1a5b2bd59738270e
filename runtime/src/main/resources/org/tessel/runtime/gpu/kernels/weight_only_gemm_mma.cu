// tessel.gemm.weight_only/mma: tessel.WeightOnlyMatMul for any number of activation rows (prefill) on tensor cores,
// y[m, n] = sum_g scale[n, g] * sum_{k in g} x[m, k] * (code[n, k] - zero[n, g]), f16 activations x and y, scales in
// their stored type S, codes as weight_only_gemm.cu takes them (WO_BITS 4: [N, K/2] u8 two a byte, even k in the low
// nibble, implicit zero 8 without zero points; WO_BITS 8: [N, K] i8, u8 with zero points).
// A block of 4 warps computes a 64x64 tile of y, each warp 32x32 (2 x 4 mma.sync m16n8k16 tiles). K goes in slices of
// WM_BK (32 or 64), each within one group (K and the group size multiples of it, which the catalogue and the host check): the block
// stores the slice of x (f16, as loaded) and the slice's code differences code - zero (small integers, exact in f16) in
// shared memory, rows WM_BK + 8 halves apart so that the fragment reads fall on distinct banks; each warp's mma sums of the
// slice's WM_BK products (exact f16 x f16 products, f32 sums) are multiplied by the column's scale once and added to the f32
// accumulators, so no dequantized weight is ever rounded to f16. The next slice's x, codes and scales are read into
// registers while the tensor cores work on this one. The one rounding is the store to f16.
#ifndef WO_BITS
#define WO_BITS 4
#endif
#ifndef WM_BK
#define WM_BK 32
#endif
#define WM_BM 64
#define WM_BN 64
#define WM_LD (WM_BK + 8)
// x: 16-byte chunks a slice row, and a thread's chunks a slice; codes: a thread's half row of the slice, in units of 16
// codes, and the bytes and 32-bit words of a unit
#define WM_XCH (WM_BK / 8)
#define WM_XPER (WM_BM * WM_XCH / 128)
#define WM_UNITS (WM_BK / 32)
#define WM_UBYTES (WO_BITS == 4 ? 8 : 16)
#define WM_UWORDS (WM_UBYTES / 4)

// byte i of the little-endian words c[0..3]
__device__ __forceinline__ int tessel_wm_byte(const unsigned* c, int i) { return (int) ((c[i >> 2] >> (8 * (i & 3))) & 0xFFu); }

// 16 code differences code - zero of one weight row's slice part (words c: 8 bytes at 4 bits, 16 at 8), as 8 packed
// f16 pairs in k order; z < 0: no zero points (4 bits: implicit 8; 8 bits: the codes are signed)
__device__ __forceinline__ void tessel_wm_codes(uint4& lo, uint4& hi, const unsigned* c, int z) {
    unsigned p[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
#if WO_BITS == 4
        const int b = tessel_wm_byte(c, i), zz = z < 0 ? 8 : z;
        const int d0 = (b & 15) - zz, d1 = (b >> 4) - zz;
#else
        const int b0 = tessel_wm_byte(c, 2 * i), b1 = tessel_wm_byte(c, 2 * i + 1);
        const int d0 = z < 0 ? (int) (signed char) b0 : b0 - z, d1 = z < 0 ? (int) (signed char) b1 : b1 - z;
#endif
        p[i] = tessel_pack_f16x2((float) d0, (float) d1);
    }
    lo = make_uint4(p[0], p[1], p[2], p[3]);
    hi = make_uint4(p[4], p[5], p[6], p[7]);
}

extern "C" __global__ void __launch_bounds__(128)
tessel_gemm_wo_mma(const unsigned short* __restrict__ x, const unsigned char* __restrict__ w, const S* __restrict__ scales,
                   const unsigned char* __restrict__ zeros, unsigned short* __restrict__ y, int m, int n, int k, int group) {
    __shared__ __align__(16) unsigned short As[WM_BM * WM_LD];
    __shared__ __align__(16) unsigned short Ws[WM_BN * WM_LD];
    __shared__ float Ss[WM_BN];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, tg = lane & 3;
    const int wm = warp >> 1, wn = warp & 1;
    const int rowBase = blockIdx.y * WM_BM, colBase = blockIdx.x * WM_BN;
    const int groups = k / group, rowBytes = WO_BITS == 4 ? k / 2 : k;
    // this thread's part of a slice: x chunks e = tid + 128 i (row e / WM_XCH, 8 halves from column 8 (e % WM_XCH));
    // weight row wr, codes [wh WM_BK / 2, (wh + 1) WM_BK / 2)
    const int wr = tid >> 1, wh = tid & 1, gc = colBase + wr;
    const bool wIn = gc < n;
    uint4 xa[WM_XPER];
    unsigned codes[WM_UNITS * WM_UWORDS];  // the slice part's code bytes
    float scale = 0.0f;
    int zero = -1;
    // the slice from k0 into registers: the codes and this thread's column scale (constants), then x
    auto fetchW = [&](int k0) {
        const long long gi = (long long) gc * groups + k0 / group;
        const unsigned char* p = w + (long long) gc * rowBytes + (WO_BITS == 4 ? k0 >> 1 : k0) + wh * (WM_UNITS * WM_UBYTES);
#pragma unroll
        for (int j = 0; j < WM_UNITS * WM_UWORDS / 2; j++) {
            const uint2 u = wIn ? *reinterpret_cast<const uint2*>(p + 8 * j) : make_uint2(0u, 0u);
            codes[2 * j] = u.x;
            codes[2 * j + 1] = u.y;
        }
        zero = zeros && wIn ? (int) zeros[gi] : -1;
        scale = wIn && wh == 0 ? LD_S(scales, gi) : 0.0f;
    };
    auto fetchX = [&](int k0) {
#pragma unroll
        for (int i = 0; i < WM_XPER; i++) {
            const int e = tid + 128 * i, r = rowBase + e / WM_XCH;
            xa[i] = r < m ? *reinterpret_cast<const uint4*>(x + (long long) r * k + k0 + (e % WM_XCH) * 8) : make_uint4(0u, 0u, 0u, 0u);
        }
    };
    fetchW(0);
    tessel_pdl();  // waits for the kernel before it (a programmatic launch may start early), then lets the next one launch
    fetchX(0);
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
    for (int k0 = 0; k0 < k; k0 += WM_BK) {
        // the registers into shared memory: x as loaded, the codes as f16 differences, the scales
#pragma unroll
        for (int i = 0; i < WM_XPER; i++) {
            const int e = tid + 128 * i;
            *reinterpret_cast<uint4*>(As + (e / WM_XCH) * WM_LD + (e % WM_XCH) * 8) = xa[i];
        }
#pragma unroll
        for (int u = 0; u < WM_UNITS; u++) {
            uint4 lo, hi;
            tessel_wm_codes(lo, hi, codes + u * WM_UWORDS, zero);
            *reinterpret_cast<uint4*>(Ws + wr * WM_LD + wh * (WM_BK / 2) + u * 16) = lo;
            *reinterpret_cast<uint4*>(Ws + wr * WM_LD + wh * (WM_BK / 2) + u * 16 + 8) = hi;
        }
        if (wh == 0) Ss[wr] = scale;
        __syncthreads();
        if (k0 + WM_BK < k) {
            fetchW(k0 + WM_BK);
            fetchX(k0 + WM_BK);
        }
        // this slice's sums (rows of Ws are columns of y)
        float part[2][4][4];
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) part[i][j][0] = part[i][j][1] = part[i][j][2] = part[i][j][3] = 0.0f;
        tessel_mma_warp_32x32<WM_BK / 16, WM_LD>(part, As, Ws, wm, wn, lane);
        // C fragment: [0], [1] = row g, columns 2t, 2t+1; [2], [3] = row g + 8: each column's scale once a slice
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const float s0 = Ss[wn * 32 + j * 8 + 2 * tg], s1 = Ss[wn * 32 + j * 8 + 2 * tg + 1];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                acc[i][j][0] += part[i][j][0] * s0;
                acc[i][j][1] += part[i][j][1] * s1;
                acc[i][j][2] += part[i][j][2] * s0;
                acc[i][j][3] += part[i][j][3] * s1;
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int row = rowBase + wm * 32 + i * 16 + g + (e >> 1) * 8, col = colBase + wn * 32 + j * 8 + 2 * tg + (e & 1);
                if (row < m && col < n) y[(long long) row * n + col] = tessel_f2h(acc[i][j][e]);
            }
}
