// tessel.gemv.weight_only: the decode-step GEMV of tessel.WeightOnlyMatMul,
// y[m, n] = sum_k x[m, k] * (code[n, k] - zero[n, g]) * scale[n, g], g = k / group (WeightQuantizer's layout).
// x and y in the activation type T (f32, f16 or bf16; WO_F32 says which load), scales in their stored type S, codes
// [N, K] i8 (WO_BITS 8; u8 with zero points) or [N, K/2] u8 two a byte, even k in the low nibble (WO_BITS 4; implicit
// zero 8 without zero points). One warp per WO_ROWS output rows, 4 warps a block; grid (ceil(N / (4 * WO_ROWS)), M).
// Each lane takes 16-byte chunks of a row (32 4-bit or 16 8-bit codes) and the matching activations (16-byte loads),
// dequantizes in registers, accumulates in f32, applies the group's scale once per chunk, and the warp's lanes are
// summed by shuffles. Needs 16-byte aligned rows: K a multiple of 32 (4-bit) or 16 (8-bit), and group a multiple of
// the codes per chunk, so a chunk never spans two groups (the catalogue and the host check).
#ifndef WO_BITS
#define WO_BITS 4
#endif
#ifndef WO_ROWS
#define WO_ROWS 2
#endif
#define WO_CODES (WO_BITS == 4 ? 32 : 16)

extern "C" __global__ void __launch_bounds__(128)
tessel_gemv_wo(const T* __restrict__ x, const unsigned char* __restrict__ w, const S* __restrict__ scales,
               const unsigned char* __restrict__ zeros, T* __restrict__ y, int n, int k, int group) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int row0 = (blockIdx.x * (blockDim.x >> 5) + warp) * WO_ROWS;
    const T* xr = x + (long long) blockIdx.y * k;
    const int rowBytes = WO_BITS == 4 ? k / 2 : k, chunks = rowBytes / 16, groups = k / group;
    float acc[WO_ROWS];
    for (int r = 0; r < WO_ROWS; r++) acc[r] = 0.0f;
    for (int c = lane; c < chunks; c += 32) {
        const int k0 = c * WO_CODES, g = k0 / group;
        float xv[WO_CODES];
#if WO_F32
        for (int i = 0; i < WO_CODES / 4; i++) {
            float4 u = *reinterpret_cast<const float4*>(xr + k0 + i * 4);
            xv[i * 4] = u.x; xv[i * 4 + 1] = u.y; xv[i * 4 + 2] = u.z; xv[i * 4 + 3] = u.w;
        }
#else
        for (int i = 0; i < WO_CODES / 8; i++) {
            uint4 u = *reinterpret_cast<const uint4*>(xr + k0 + i * 8);
            unsigned short h[8] = {(unsigned short) (u.x & 0xFFFFu), (unsigned short) (u.x >> 16), (unsigned short) (u.y & 0xFFFFu), (unsigned short) (u.y >> 16),
                                   (unsigned short) (u.z & 0xFFFFu), (unsigned short) (u.z >> 16), (unsigned short) (u.w & 0xFFFFu), (unsigned short) (u.w >> 16)};
            for (int j = 0; j < 8; j++) xv[i * 8 + j] = LD_T(h, j);
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
    for (int r = 0; r < WO_ROWS; r++) {
        const float v = tessel_warp_sum(acc[r]);
        const int row = row0 + r;
        if (lane == 0 && row < n) ST_T(y, (long long) blockIdx.y * n + row, v);
    }
}
