// tessel.gemv.weight_only: the decode-step GEMV of tessel.WeightOnlyMatMul,
// y[m, n] = sum_k x[m, k] * (code[n, k] - zero[n, g]) * scale[n, g], g = k / group (WeightQuantizer's layout).
// x and y in the activation type T (f32, f16 or bf16; WO_F32 says which load), scales in their stored type S, codes
// [N, K] i8 (WO_BITS 8; u8 with zero points) or [N, K/2] u8 two a byte, even k in the low nibble (WO_BITS 4; implicit
// zero 8 without zero points). One warp per WO_ROWS output rows, 4 warps a block; grid (ceil(N / (4 * WO_ROWS)), M).
// Each lane takes 16-byte chunks of a row (32 4-bit or 16 8-bit codes) and the matching activations (16-byte loads),
// dequantizes in registers, accumulates in f32, applies the group's scale once per chunk, and the warp's lanes are
// summed by shuffles; then a bias[n] and a residual[m, n] (either may be null: a fused gemm_bias_act's Adds) are added
// in f32 before the one rounding to T. A fused eltwise_gemm's prologue (the elementwise tree computing x) is generated
// by the host at the marker below: WO_XPARAMS adds the tree's other inputs x1.. after x, and WO_LOAD_X loads each
// input's chunk and evaluates the tree per element in f32, rounded to T as the unfused tree's stored result would be.
// With WO_RMS (a fused rmsnorm_gemm) x is the norm's input: each lane sums x^2 over the chunks it loads (every warp
// reads all of its row of x, so the warp's sum is the row's), multiplies x by the norm's scale gamma[k] (K values in T,
// L1/L2-resident: weights already quantized cannot take it folded in), and the row's sums are scaled by
// rsqrt(sum / k + WO_EPS) before the bias and residual. Needs 16-byte aligned rows: K a multiple of 32 (4-bit) or 16
// (8-bit), and group a multiple of the codes per chunk, so a chunk never spans two groups (the catalogue and the host check).
#ifndef WO_BITS
#define WO_BITS 4
#endif
#ifndef WO_ROWS
#define WO_ROWS 2
#endif
#ifndef WO_RMS
#define WO_RMS 0
#endif
#define WO_CODES (WO_BITS == 4 ? 32 : 16)

// WO_CODES elements of p from p[0] on (16-byte loads) as f32
__device__ __forceinline__ void tessel_wo_load(const T* p, float* xv) {
#if WO_F32
    for (int i = 0; i < WO_CODES / 4; i++) {
        float4 u = *reinterpret_cast<const float4*>(p + i * 4);
        xv[i * 4] = u.x; xv[i * 4 + 1] = u.y; xv[i * 4 + 2] = u.z; xv[i * 4 + 3] = u.w;
    }
#else
    for (int i = 0; i < WO_CODES / 8; i++) {
        uint4 u = *reinterpret_cast<const uint4*>(p + i * 8);
        unsigned short h[8] = {(unsigned short) (u.x & 0xFFFFu), (unsigned short) (u.x >> 16), (unsigned short) (u.y & 0xFFFFu), (unsigned short) (u.y >> 16),
                               (unsigned short) (u.z & 0xFFFFu), (unsigned short) (u.z >> 16), (unsigned short) (u.w & 0xFFFFu), (unsigned short) (u.w >> 16)};
        for (int j = 0; j < 8; j++) xv[i * 8 + j] = LD_T(h, j);
    }
#endif
}

// @prologue
#ifndef WO_XPARAMS
#define WO_XPARAMS
#endif
#ifndef WO_LOAD_X
#define WO_LOAD_X(off, k0, xv) tessel_wo_load(x + (off) + (k0), xv)
#endif

extern "C" __global__ void __launch_bounds__(128)
tessel_gemv_wo(const T* __restrict__ x WO_XPARAMS, const unsigned char* __restrict__ w, const S* __restrict__ scales,
               const unsigned char* __restrict__ zeros, const T* __restrict__ gamma, const T* __restrict__ bias, const T* __restrict__ res,
               T* __restrict__ y, int n, int k, int group) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int row0 = (blockIdx.x * (blockDim.x >> 5) + warp) * WO_ROWS;
    const long long xoff = (long long) blockIdx.y * k;
    const int rowBytes = WO_BITS == 4 ? k / 2 : k, chunks = rowBytes / 16, groups = k / group;
    float acc[WO_ROWS];
    for (int r = 0; r < WO_ROWS; r++) acc[r] = 0.0f;
#if WO_RMS
    float ss = 0.0f;
#endif
    for (int c = lane; c < chunks; c += 32) {
        const int k0 = c * WO_CODES, g = k0 / group;
        float xv[WO_CODES];
        WO_LOAD_X(xoff, k0, xv);
#if WO_RMS
        {
            float gv[WO_CODES];
            tessel_wo_load(gamma + k0, gv);
            for (int i = 0; i < WO_CODES; i++) {
                ss = fmaf(xv[i], xv[i], ss);
                xv[i] *= gv[i];
            }
        }
#endif
        for (int r = 0; r < WO_ROWS; r++) {
            const int row = row0 + r;
            if (row >= n) break;
            uint4 u = *reinterpret_cast<const uint4*>(w + (long long) row * rowBytes + c * 16);
            const float s = LD_S(scales, (long long) row * groups + g);
            const int z = zeros ? (int) zeros[(long long) row * groups + g] : (WO_BITS == 4 ? 8 : 0);
            unsigned words[4] = {u.x, u.y, u.z, u.w};
            float sum = 0.0f;
            for (int j = 0; j < 4; j++) {
#if WO_BITS == 4
                for (int b = 0; b < 8; b++) sum += xv[j * 8 + b] * (float) ((int) ((words[j] >> (4 * b)) & 15u) - z);
#else
                for (int b = 0; b < 4; b++) {
                    int q = (int) ((words[j] >> (8 * b)) & 255u);
                    if (!zeros) q = (int) (signed char) q;
                    sum += xv[j * 4 + b] * (float) (q - z);
                }
#endif
            }
            acc[r] += sum * s;
        }
    }
#if WO_RMS
    const float rs = rsqrtf(tessel_warp_sum(ss) / (float) k + WO_EPS);
#else
    const float rs = 1.0f;
#endif
    for (int r = 0; r < WO_ROWS; r++) {
        float v = tessel_warp_sum(acc[r]) * rs;
        const int row = row0 + r;
        if (lane == 0 && row < n) {
            if (bias) v += LD_T(bias, row);
            if (res) v += LD_T(res, (long long) blockIdx.y * n + row);
            ST_T(y, (long long) blockIdx.y * n + row, v);
        }
    }
}
