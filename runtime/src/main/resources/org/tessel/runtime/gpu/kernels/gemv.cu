// tessel.gemv: y[m, n] = sum_k x[m, k] * w[n, k] for a MatMul by constant weights at few activation rows (a decode
// step's projections), w the MatMul's [K, N] weights repacked as [N, K] rows at build time. x, w and y in T (f32, f16 or
// bf16; GV_F32 says which load), f32 sums. One warp per GV_ROWS weight rows, 4 warps a block, grid ceil(N / (4 GV_ROWS)).
// Each lane reads 16-byte chunks of its rows, GV_UNROLL chunks a row before it uses any (loads in flight hide HBM
// latency), and the GV_M activation rows' matching chunks (16-byte loads, L1-resident), so each weight byte is read once
// for all rows; the warp's lanes are summed by shuffles, then a bias[n] and a residual[m, n] (either may be null: a
// fused gemm_bias_act's Adds) are added in f32 before the one rounding to T. Needs K a multiple of the chunk's elements
// (the host checks).
#ifndef GV_M
#define GV_M 1
#endif
#ifndef GV_ROWS
#define GV_ROWS 2
#endif
#ifndef GV_UNROLL
#define GV_UNROLL 4
#endif
#define GV_EPC (GV_F32 ? 4 : 8)

__device__ __forceinline__ void tessel_gv_unpack(uint4 u, float* v) {
#if GV_F32
    v[0] = __uint_as_float(u.x); v[1] = __uint_as_float(u.y); v[2] = __uint_as_float(u.z); v[3] = __uint_as_float(u.w);
#else
    unsigned short h[8] = {(unsigned short) (u.x & 0xFFFFu), (unsigned short) (u.x >> 16), (unsigned short) (u.y & 0xFFFFu), (unsigned short) (u.y >> 16),
                           (unsigned short) (u.z & 0xFFFFu), (unsigned short) (u.z >> 16), (unsigned short) (u.w & 0xFFFFu), (unsigned short) (u.w >> 16)};
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = LD_T(h, j);
#endif
}

extern "C" __global__ void __launch_bounds__(128)
tessel_gemv(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias, const T* __restrict__ res, T* __restrict__ y, int n, int k) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int row0 = (blockIdx.x * (blockDim.x >> 5) + warp) * GV_ROWS;
    const int chunks = k / GV_EPC;
    float acc[GV_ROWS][GV_M];
#pragma unroll
    for (int r = 0; r < GV_ROWS; r++)
#pragma unroll
        for (int m = 0; m < GV_M; m++) acc[r][m] = 0.0f;
    for (int c0 = lane; c0 < chunks; c0 += 32 * GV_UNROLL) {
        uint4 wv[GV_UNROLL][GV_ROWS];
#pragma unroll
        for (int u = 0; u < GV_UNROLL; u++) {
            const int c = c0 + 32 * u;
#pragma unroll
            for (int r = 0; r < GV_ROWS; r++) {
                const int row = row0 + r;
                wv[u][r] = c < chunks && row < n ? __ldg(reinterpret_cast<const uint4*>(w + (long long) row * k) + c) : make_uint4(0u, 0u, 0u, 0u);
            }
        }
#pragma unroll
        for (int u = 0; u < GV_UNROLL; u++) {
            const int c = c0 + 32 * u;
            if (c >= chunks) break;
            float wf[GV_ROWS][GV_EPC];
#pragma unroll
            for (int r = 0; r < GV_ROWS; r++) tessel_gv_unpack(wv[u][r], wf[r]);
#pragma unroll
            for (int m = 0; m < GV_M; m++) {
                float xv[GV_EPC];
                tessel_gv_unpack(__ldg(reinterpret_cast<const uint4*>(x + (long long) m * k) + c), xv);
#pragma unroll
                for (int r = 0; r < GV_ROWS; r++) {
                    float s = 0.0f;
#pragma unroll
                    for (int j = 0; j < GV_EPC; j++) s = fmaf(xv[j], wf[r][j], s);
                    acc[r][m] += s;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GV_ROWS; r++)
#pragma unroll
        for (int m = 0; m < GV_M; m++) {
            float v = tessel_warp_sum(acc[r][m]);
            const int row = row0 + r;
            if (lane == 0 && row < n) {
                if (bias) v += LD_T(bias, row);
                if (res) v += LD_T(res, (long long) m * n + row);
                ST_T(y, (long long) m * n + row, v);
            }
        }
}
