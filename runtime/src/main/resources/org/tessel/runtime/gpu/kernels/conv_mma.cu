// tessel.conv.mma: a 2-D NHWC convolution of one group as an implicit GEMM on tensor cores, K split over the grid; f16
// (tessel_conv_mma) or int8 codes with a requantizing epilogue (tessel_conv_mma_s8, and tessel_conv_mma_s8_wide with
// 128 x 128 tiles for many pixels).
// y[p, o] = act(sum_k A[p, k] W[o, k] + bias[o] (+ residual[p, o])), p an output pixel (n, oy, ox), o an output channel,
// k = (ky * KW + kx) * C + c a tap and input channel (W as KRSC, the engine's NHWC filters), A[p, k] = x[n, iy, ix, c] or
// zero in the padding. A K slice is 64 bytes (32 f16 or 64 int8 values) of one tap, C a multiple of it, so a slice reads
// 16-byte runs of x's channels. A block computes a BM x BN tile of y, its warps WM x WN of it each (mma.sync m16n8k16 f16
// or m16n8k32 s8 a step of 32 bytes; the two fragments lie alike in bytes); slices reach shared memory by cp.async, three
// deep (two in flight while the tensor cores work on the third). Small-batch convolutions have few pixels (ResNet-50's
// layer4 at batch 1: 49), so grid z splits K into `splits` ranges: each block of a tile writes its partial sums (f32, or
// exact int32) to the workspace, and the tile's last block to finish (a counter per tile) adds the partials in split
// order (a fixed order: the result does not depend on which block finishes last), applies the epilogue and resets the
// counter for the next run. One launch.
#define CM_SLICE_BYTES 64
#define CM_LDB (CM_SLICE_BYTES + 16)
#define CM_STAGES 3

// A block's tile: BM x BN outputs (BM = BN), WARPS_M x WARPS_N warps, each (BM / WARPS_M) x (BN / WARPS_N) of it
template <int BM_, int BN_, int WARPS_M_, int WARPS_N_>
struct CmTile {
    static constexpr int BM = BM_, BN = BN_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_, THREADS = 32 * WARPS_M * WARPS_N;
    static constexpr int MI = BM / WARPS_M / 16, NJ = BN / WARPS_N / 8;
    // 16-byte chunks of a slice a thread copies, for A and for W (4 a row)
    static constexpr int ROWS = BM * 4 / THREADS;
    static constexpr int STAGE_A = BM * CM_LDB, STAGE_W = BN * CM_LDB, PIPE_BYTES = CM_STAGES * (STAGE_A + STAGE_W);
    // the tile's int32 sums staged for the int8 epilogue (rows BN + 4 ints apart), and runs of 16 columns a thread finishes
    static constexpr int TILE_LD = BN + 4, TILE_BYTES = BM * TILE_LD * 4, RUNS = BM * BN / 16 / THREADS;
    static constexpr int SMEM = PIPE_BYTES > TILE_BYTES ? PIPE_BYTES : TILE_BYTES;
    static_assert(BM == BN && BM * 4 % THREADS == 0 && BM * BN / 16 % THREADS == 0, "a square tile whose chunks the threads share evenly");
};
typedef CmTile<64, 64, 2, 2> CmSmall;   // 128 threads, warps of 32 x 32; 30 KB of static shared memory
typedef CmTile<128, 128, 2, 2> CmWide;  // 128 threads, warps of 64 x 64; 66 KB of dynamic shared memory

struct ConvMmaGeom {
    int n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout;
};

// The block's K range [s0, s1) of slices for grid z of `splits`
__device__ __forceinline__ void tessel_cm_range(const ConvMmaGeom& g, int splits, int esize, int& s0, int& s1) {
    const int slices = g.kh * g.kw * g.c * esize / CM_SLICE_BYTES, z = blockIdx.z;
    s0 = (int) ((long long) slices * z / splits);
    s1 = (int) ((long long) slices * (z + 1) / splits);
}

// The main loop: slices [s0, s1) of the tile at (rowBase, colBase) into acc, elements E (unsigned short f16 or signed char
// int8), accumulators ACC (float or int); sm holds the stages of A (first CM_STAGES) and of W
template <class TL, typename E, typename ACC>
__device__ __forceinline__ void tessel_cm_mainloop(ACC (&acc)[TL::MI][TL::NJ][4], const E* __restrict__ x, const E* __restrict__ wt, const ConvMmaGeom& g,
                                                   int rowBase, int colBase, int s0, int s1, unsigned char* sm) {
    constexpr int SLICE = CM_SLICE_BYTES / (int) sizeof(E);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / TL::WARPS_N, wn = warp % TL::WARPS_N;
    const int m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c;
    // this thread's 16-byte chunks of a slice, rows r = tid / 4 + (THREADS / 4) i, from byte 16 (tid % 4); for each row
    // of A its pixel's image base and its receptive field's corner
    const int ch = (tid & 3) * (16 / (int) sizeof(E));
    int pb[TL::ROWS], py[TL::ROWS], px[TL::ROWS];
    bool pin[TL::ROWS], win[TL::ROWS];
    const E* wrow[TL::ROWS];
#pragma unroll
    for (int i = 0; i < TL::ROWS; i++) {
        const int r = (tid >> 2) + (TL::THREADS / 4) * i, p = rowBase + r;
        pin[i] = p < m;
        const int pp = pin[i] ? p : 0, ox = pp % g.ow, t = pp / g.ow, oy = t % g.oh, b = t / g.oh;
        pb[i] = b;
        py[i] = oy * g.sh - g.ph;
        px[i] = ox * g.sw - g.pw;
        const int o = colBase + r;
        win[i] = o < g.cout;
        wrow[i] = wt + (long long) (win[i] ? o : 0) * k + ch;
    }
    // slice s into stage st by asynchronous 16-byte copies (zeros where a row is out of range or a tap in the padding)
    auto load = [&](int s, int st) {
        const int k0 = s * SLICE, tap = k0 / g.c, c0 = k0 - tap * g.c, ky = tap / g.kw, kx = tap - ky * g.kw;
        unsigned char* as = sm + st * TL::STAGE_A;
        unsigned char* ws = sm + CM_STAGES * TL::STAGE_A + st * TL::STAGE_W;
#pragma unroll
        for (int i = 0; i < TL::ROWS; i++) {
            const int r = (tid >> 2) + (TL::THREADS / 4) * i, iy = py[i] + ky * g.dh, ix = px[i] + kx * g.dw;
            const bool in = pin[i] && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
            const E* src = in ? x + (((long long) pb[i] * g.h + iy) * g.w + ix) * g.c + c0 + ch : x;
            tessel_cp_async16(tessel_smem_addr(as + r * CM_LDB + (tid & 3) * 16), (const void*) src, in ? 16 : 0);
            tessel_cp_async16(tessel_smem_addr(ws + r * CM_LDB + (tid & 3) * 16), (const void*) (win[i] ? wrow[i] + k0 : wt), win[i] ? 16 : 0);
        }
    };
    tessel_pdl();  // waits for the kernel before it (a programmatic launch may start early), then lets the next one launch
#pragma unroll
    for (int i = 0; i < TL::MI; i++)
#pragma unroll
        for (int j = 0; j < TL::NJ; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0;
    // CM_STAGES = 3: two slices in flight while the tensor cores work on a third; a group is committed for every slice
    // (empty past the range), so "all but one pending" always means "this slice's copies are done"
    if (s0 < s1) load(s0, 0);
    tessel_cp_async_commit();
    if (s0 + 1 < s1) load(s0 + 1, 1);
    tessel_cp_async_commit();
    for (int s = s0; s < s1; s++) {
        const int st = (s - s0) % CM_STAGES;
        tessel_cp_async_wait_all_but_one();
        __syncthreads();  // every thread's copies of slice s landed, and every warp is done with the stage reloaded next
        if (s + 2 < s1) load(s + 2, (s - s0 + 2) % CM_STAGES);
        tessel_cp_async_commit();
        // rows of W are columns of y
        tessel_mma_warp_tile<TL::MI, TL::NJ, CM_SLICE_BYTES / 32, CM_LDB>(acc, sm + st * TL::STAGE_A + wm * TL::MI * 16 * CM_LDB,
                                                                           sm + CM_STAGES * TL::STAGE_A + st * TL::STAGE_W + wn * TL::NJ * 8 * CM_LDB, lane);
    }
    tessel_cp_async_wait_all();
}

// The output position of fragment element e (0..3) of acc[i][j] in the tile: row, column
template <class TL>
__device__ __forceinline__ int tessel_cm_row(int i, int e) { const int lane = threadIdx.x & 31, wm = (threadIdx.x >> 5) / TL::WARPS_N; return wm * TL::MI * 16 + i * 16 + (lane >> 2) + (e >> 1) * 8; }
template <class TL>
__device__ __forceinline__ int tessel_cm_col(int j, int e) { const int lane = threadIdx.x & 31, wn = (threadIdx.x >> 5) % TL::WARPS_N; return wn * TL::NJ * 8 + j * 8 + 2 * (lane & 3) + (e & 1); }

__device__ __forceinline__ void tessel_cm_store2(float* p, float a, float b) { *reinterpret_cast<float2*>(p) = make_float2(a, b); }
__device__ __forceinline__ void tessel_cm_store2(int* p, int a, int b) { *reinterpret_cast<int2*>(p) = make_int2(a, b); }

// A split block's partial sums to its split's plane of the workspace (both columns of a fragment pair in: channels are a
// multiple of 8); then whether this block is its tile's last, the counter reset by that block once it has read every
// partial (tessel_cm_reset)
template <class TL, typename ACC>
__device__ __forceinline__ bool tessel_cm_partial(const ACC (&acc)[TL::MI][TL::NJ][4], ACC* partials, int* counters, int m, int cout, int rowBase, int colBase, int splits, int* lastBlock) {
    ACC* mine = partials + (long long) blockIdx.z * m * cout;
#pragma unroll
    for (int i = 0; i < TL::MI; i++)
#pragma unroll
        for (int j = 0; j < TL::NJ; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = rowBase + tessel_cm_row<TL>(i, 2 * h), col = colBase + tessel_cm_col<TL>(j, 0);
                if (row < m && col < cout) tessel_cm_store2(mine + (long long) row * cout + col, acc[i][j][2 * h], acc[i][j][2 * h + 1]);
            }
    __threadfence();
    __syncthreads();
    int* counter = counters + blockIdx.y * gridDim.x + blockIdx.x;
    if (threadIdx.x == 0) *lastBlock = atomicAdd(counter, 1) == splits - 1;
    __syncthreads();
    if (!*lastBlock) return false;
    __threadfence();
    return true;
}

__device__ __forceinline__ void tessel_cm_reset(int* counters) {
    if (threadIdx.x == 0) counters[blockIdx.y * gridDim.x + blockIdx.x] = 0;
}

__device__ __forceinline__ float tessel_cm_act(float v, int relu) { return relu ? fmaxf(v, 0.0f) : v; }

extern "C" __global__ void __launch_bounds__(128)
tessel_conv_mma(const unsigned short* __restrict__ x, const unsigned short* __restrict__ wt, const T* __restrict__ bias,
                const T* __restrict__ residual, unsigned short* __restrict__ y, float* partials, int* counters,
                int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout,
                int relu, int splits) {
    typedef CmSmall TL;
    const ConvMmaGeom g = {n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout};
    __shared__ __align__(16) unsigned char sm[TL::PIPE_BYTES];
    __shared__ int lastBlock;
    const int tid = threadIdx.x;
    const int m = g.n * g.oh * g.ow;
    const int rowBase = blockIdx.y * TL::BM, colBase = blockIdx.x * TL::BN;
    int s0, s1;
    tessel_cm_range(g, splits, 2, s0, s1);
    float acc[TL::MI][TL::NJ][4];
    tessel_cm_mainloop<TL, unsigned short, float>(acc, x, wt, g, rowBase, colBase, s0, s1, sm);
    if (splits > 1) {
        if (!tessel_cm_partial<TL, float>(acc, partials, counters, m, g.cout, rowBase, colBase, splits, &lastBlock)) return;
        // the tile's sums, four columns a thread at a time (16-byte loads past L1, two splits in flight), in split order;
        // output channels are a multiple of 8, so four columns from a multiple of 4 are all in or all out
        constexpr int U = TL::BM * TL::BN / 4 / TL::THREADS;
        float sum[U][4];
#pragma unroll
        for (int u = 0; u < U; u++) sum[u][0] = sum[u][1] = sum[u][2] = sum[u][3] = 0.0f;
        for (int q = 0; q < splits; q += 2) {
            float4 a[U], b[U];
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int e = tid + TL::THREADS * u, row = rowBase + e / (TL::BN / 4), col = colBase + (e % (TL::BN / 4)) * 4;
                const bool in = row < m && col < g.cout;
                const long long at = (long long) row * g.cout + col;
                a[u] = in ? __ldcg(reinterpret_cast<const float4*>(partials + (long long) q * m * g.cout + at)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                b[u] = in && q + 1 < splits ? __ldcg(reinterpret_cast<const float4*>(partials + (long long) (q + 1) * m * g.cout + at)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            }
#pragma unroll
            for (int u = 0; u < U; u++) {
                sum[u][0] += a[u].x; sum[u][1] += a[u].y; sum[u][2] += a[u].z; sum[u][3] += a[u].w;
                sum[u][0] += b[u].x; sum[u][1] += b[u].y; sum[u][2] += b[u].z; sum[u][3] += b[u].w;
            }
        }
        tessel_cm_reset(counters);
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int e = tid + TL::THREADS * u, row = rowBase + e / (TL::BN / 4), col = colBase + (e % (TL::BN / 4)) * 4;
            if (row < m && col < g.cout) {
                const long long at = (long long) row * g.cout + col;
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    float v = sum[u][c] + (bias ? LD_T(bias, col + c) : 0.0f);
                    if (residual) v += LD_T(residual, at + c);
                    y[at + c] = tessel_f2h(tessel_cm_act(v, relu));
                }
            }
        }
        return;
    }
#pragma unroll
    for (int i = 0; i < TL::MI; i++)
#pragma unroll
        for (int j = 0; j < TL::NJ; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int row = rowBase + tessel_cm_row<TL>(i, e), col = colBase + tessel_cm_col<TL>(j, e);
                if (row < m && col < g.cout) {
                    const long long at = (long long) row * g.cout + col;
                    float v = acc[i][j][e] + (bias ? LD_T(bias, col) : 0.0f);
                    if (residual) v += LD_T(residual, at);
                    y[at] = tessel_f2h(tessel_cm_act(v, relu));
                }
            }
}

// The INT8 epilogue of 16 output columns from col of one row: v = sum * scale[o] (+ bias[o]) (+ residual code *
// res_scale), clamped to [lo, hi], requantized at out_scale (tessel_q8), stored as one 16-byte write; the operations and
// their order are tessel_int8_epilogue's, so the codes equal the CPU emulation's for the same exact sums
__device__ __forceinline__ void tessel_cm_s8_store16(const int* sum, const float* __restrict__ scale, const float* __restrict__ bias,
                                                     const signed char* __restrict__ residual, float res_scale, float lo, float hi,
                                                     signed char* __restrict__ y, float out_scale, long long at, int col) {
    int4 res = make_int4(0, 0, 0, 0);
    if (residual) res = *reinterpret_cast<const int4*>(residual + at);
    const signed char* rc = reinterpret_cast<const signed char*>(&res);
    float sc[16], bi[16];
#pragma unroll
    for (int v = 0; v < 4; v++) {
        const float4 s4 = reinterpret_cast<const float4*>(scale + col)[v], b4 = bias ? reinterpret_cast<const float4*>(bias + col)[v] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        sc[4 * v] = s4.x; sc[4 * v + 1] = s4.y; sc[4 * v + 2] = s4.z; sc[4 * v + 3] = s4.w;
        bi[4 * v] = b4.x; bi[4 * v + 1] = b4.y; bi[4 * v + 2] = b4.z; bi[4 * v + 3] = b4.w;
    }
    int4 out;
    signed char* oc = reinterpret_cast<signed char*>(&out);
#pragma unroll
    for (int c = 0; c < 16; c++) {
        float v = __fmul_rn((float) sum[c], sc[c]);
        if (bias) v = __fadd_rn(v, bi[c]);
        if (residual) v = __fadd_rn(v, __fmul_rn((float) rc[c], res_scale));
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        oc[c] = tessel_q8(v, out_scale);
    }
    *reinterpret_cast<int4*>(y + at) = out;
}

// The int8 form of tile TL, sm its shared memory (TL::SMEM bytes): x and the filters int8 codes (x at the activation's
// scale, filters per output channel), exact int32 sums; scale[o] = s_x * s_w[o]; bias f32 (or null); residual int8 codes
// of the output's shape at res_scale (or null); [lo, hi] ReLU's or Clip's bounds; y int8 codes at out_scale. Output
// channels are a multiple of 16: a thread finishes runs of 16 columns of a row (the tile's sums staged in shared memory,
// or the splits' partials read 16 bytes at a time), so the residual is read and y written in 16-byte runs.
template <class TL>
__device__ __forceinline__ void tessel_cm_s8(const signed char* __restrict__ x, const signed char* __restrict__ wt, const float* __restrict__ scale, const float* __restrict__ bias,
                                             const signed char* __restrict__ residual, float res_scale, float lo, float hi, signed char* __restrict__ y, float out_scale,
                                             int* partials, int* counters, const ConvMmaGeom& g, int splits, unsigned char* sm, int* lastBlock) {
    const int tid = threadIdx.x;
    const int m = g.n * g.oh * g.ow;
    const int rowBase = blockIdx.y * TL::BM, colBase = blockIdx.x * TL::BN;
    int s0, s1;
    tessel_cm_range(g, splits, 1, s0, s1);
    int acc[TL::MI][TL::NJ][4];
    tessel_cm_mainloop<TL, signed char, int>(acc, x, wt, g, rowBase, colBase, s0, s1, sm);
    // a thread's runs of 16 columns: run e = tid + THREADS u is row e / (BN / 16) of the tile, columns 16 (e % (BN / 16))..
    constexpr int RUNS_A_ROW = TL::BN / 16;
    int sum[TL::RUNS][16];
    if (splits > 1) {
        if (!tessel_cm_partial<TL, int>(acc, partials, counters, m, g.cout, rowBase, colBase, splits, lastBlock)) return;
#pragma unroll
        for (int u = 0; u < TL::RUNS; u++)
#pragma unroll
            for (int c = 0; c < 16; c++) sum[u][c] = 0;
        for (int q = 0; q < splits; q++) {
#pragma unroll
            for (int u = 0; u < TL::RUNS; u++) {
                const int e = tid + TL::THREADS * u, row = rowBase + e / RUNS_A_ROW, col = colBase + (e % RUNS_A_ROW) * 16;
                if (row < m && col < g.cout) {
                    const int4* p = reinterpret_cast<const int4*>(partials + (long long) q * m * g.cout + (long long) row * g.cout + col);
#pragma unroll
                    for (int v = 0; v < 4; v++) {
                        const int4 a = __ldcg(p + v);
                        sum[u][4 * v] += a.x; sum[u][4 * v + 1] += a.y; sum[u][4 * v + 2] += a.z; sum[u][4 * v + 3] += a.w;
                    }
                }
            }
        }
        tessel_cm_reset(counters);
    } else {
        // the tile's sums through shared memory (the stages are free once every warp is past the main loop)
        int* tile = reinterpret_cast<int*>(sm);
        __syncthreads();
#pragma unroll
        for (int i = 0; i < TL::MI; i++)
#pragma unroll
            for (int j = 0; j < TL::NJ; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) tile[tessel_cm_row<TL>(i, e) * TL::TILE_LD + tessel_cm_col<TL>(j, e)] = acc[i][j][e];
        __syncthreads();
#pragma unroll
        for (int u = 0; u < TL::RUNS; u++) {
            const int e = tid + TL::THREADS * u;
#pragma unroll
            for (int c = 0; c < 16; c++) sum[u][c] = tile[(e / RUNS_A_ROW) * TL::TILE_LD + (e % RUNS_A_ROW) * 16 + c];
        }
    }
#pragma unroll
    for (int u = 0; u < TL::RUNS; u++) {
        const int e = tid + TL::THREADS * u, row = rowBase + e / RUNS_A_ROW, col = colBase + (e % RUNS_A_ROW) * 16;
        if (row < m && col < g.cout) tessel_cm_s8_store16(sum[u], scale, bias, residual, res_scale, lo, hi, y, out_scale, (long long) row * g.cout + col, col);
    }
}

// 64 x 64 tiles of 4 warps (few pixels: small batches, K split over the grid)
extern "C" __global__ void __launch_bounds__(128)
tessel_conv_mma_s8(const signed char* __restrict__ x, const signed char* __restrict__ wt, const float* __restrict__ scale, const float* __restrict__ bias,
                   const signed char* __restrict__ residual, float res_scale, float lo, float hi, signed char* __restrict__ y, float out_scale,
                   int* partials, int* counters,
                   int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout, int splits) {
    const ConvMmaGeom g = {n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout};
    __shared__ __align__(16) unsigned char sm[CmSmall::SMEM];
    __shared__ int lastBlock;
    tessel_cm_s8<CmSmall>(x, wt, scale, bias, residual, res_scale, lo, hi, y, out_scale, partials, counters, g, splits, sm, &lastBlock);
}

// 128 x 128 tiles of 4 warps, each 64 x 64 (many pixels: a warp's mma work per shared-memory byte twice the small tile's
// 32 x 32 warps'), CmWide::SMEM bytes of dynamic shared memory
extern "C" __global__ void __launch_bounds__(128)
tessel_conv_mma_s8_wide(const signed char* __restrict__ x, const signed char* __restrict__ wt, const float* __restrict__ scale, const float* __restrict__ bias,
                        const signed char* __restrict__ residual, float res_scale, float lo, float hi, signed char* __restrict__ y, float out_scale,
                        int* partials, int* counters,
                        int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout, int splits) {
    const ConvMmaGeom g = {n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout};
    extern __shared__ __align__(16) unsigned char cm_dynamic[];
    __shared__ int lastBlock;
    tessel_cm_s8<CmWide>(x, wt, scale, bias, residual, res_scale, lo, hi, y, out_scale, partials, counters, g, splits, cm_dynamic, &lastBlock);
}
