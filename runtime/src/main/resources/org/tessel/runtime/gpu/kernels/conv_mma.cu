// tessel.conv.mma: a 2-D NHWC f16 convolution of one group as an implicit GEMM on tensor cores, K split over the grid.
// y[p, o] = act(sum_k A[p, k] W[o, k] + bias[o] (+ residual[p, o])), p an output pixel (n, oy, ox), o an output channel,
// k = (ky * KW + kx) * C + c a tap and input channel (W as KRSC, the engine's NHWC filters), A[p, k] = x[n, iy, ix, c] or
// zero in the padding. C is a multiple of CM_BK, so a K slice lies in one tap and reads 16-byte runs of x's channels.
// A block of 4 warps computes a 64x64 tile of y, each warp 32x32 (2 x 4 mma.sync m16n8k16); slices reach shared memory by
// cp.async, three deep (two in flight while the tensor cores work on the third). Small-batch convolutions have few pixels
// (ResNet-50's layer4 at batch 1: 49), so grid z splits K into `splits` ranges: each block of a tile writes its f32 partial sums to the workspace, and
// the tile's last block to finish (a counter per tile) adds the partials in split order (a fixed order: the result does
// not depend on which block finishes last), applies the epilogue and resets the counter for the next run. One launch.
#define CM_BM 64
#define CM_BN 64
#define CM_BK 32
#define CM_LD (CM_BK + 8)
#define CM_STAGES 3

struct ConvMmaGeom {
    int n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout;
};

__device__ __forceinline__ float tessel_cm_act(float v, int relu) { return relu ? fmaxf(v, 0.0f) : v; }

extern "C" __global__ void __launch_bounds__(128)
tessel_conv_mma(const unsigned short* __restrict__ x, const unsigned short* __restrict__ wt, const T* __restrict__ bias,
                const T* __restrict__ residual, unsigned short* __restrict__ y, float* partials, int* counters,
                int n, int h, int w, int c, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int cout,
                int relu, int splits) {
    const ConvMmaGeom g = {n, h, w, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, cout};
    __shared__ __align__(16) unsigned short As[CM_STAGES][CM_BM * CM_LD];
    __shared__ __align__(16) unsigned short Ws[CM_STAGES][CM_BN * CM_LD];
    __shared__ int lastBlock;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, gr = lane >> 2, tg = lane & 3;
    const int wm = warp >> 1, wn = warp & 1;
    const int m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c;
    const int rowBase = blockIdx.y * CM_BM, colBase = blockIdx.x * CM_BN;
    // this block's K range: slices [s0, s1) of the k / CM_BK
    const int slices = k / CM_BK, z = blockIdx.z;
    const int s0 = (int) ((long long) slices * z / splits), s1 = (int) ((long long) slices * (z + 1) / splits);
    // this thread's two 16-byte chunks of a slice, rows r = tid / 4 and r + 32, 8 halves from 8 (tid % 4); for each row
    // of A its pixel's image base and its receptive field's corner
    const int ch = (tid & 3) * 8;
    int pb[2], py[2], px[2];
    bool pin[2], win[2];
    const unsigned short* wrow[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        const int r = (tid >> 2) + 32 * i, p = rowBase + r;
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
        const int k0 = s * CM_BK, tap = k0 / g.c, c0 = k0 - tap * g.c, ky = tap / g.kw, kx = tap - ky * g.kw;
#pragma unroll
        for (int i = 0; i < 2; i++) {
            const int r = (tid >> 2) + 32 * i, iy = py[i] + ky * g.dh, ix = px[i] + kx * g.dw;
            const bool in = pin[i] && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
            const unsigned short* src = in ? x + (((long long) pb[i] * g.h + iy) * g.w + ix) * g.c + c0 + ch : x;
            tessel_cp_async16(tessel_smem_addr(As[st] + r * CM_LD + ch), (const void*) src, in ? 16 : 0);
            tessel_cp_async16(tessel_smem_addr(Ws[st] + r * CM_LD + ch), (const void*) (win[i] ? wrow[i] + k0 : wt), win[i] ? 16 : 0);
        }
    };
    tessel_pdl();  // waits for the kernel before it (a programmatic launch may start early), then lets the next one launch
    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
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
        tessel_mma_warp_32x32<CM_BK / 16, CM_LD>(acc, As[st], Ws[st], wm, wn, gr, tg);  // rows of Ws are columns of y
    }
    tessel_cp_async_wait_all();
    // C fragment: [0], [1] = row g, columns 2t, 2t+1; [2], [3] = row g + 8
    if (splits > 1) {
        float* mine = partials + (long long) z * m * g.cout;
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int h = 0; h < 2; h++) {  // rows g and g + 8, columns 2t and 2t + 1 (both in: channels are a multiple of 8)
                    const int row = rowBase + wm * 32 + i * 16 + gr + h * 8, col = colBase + wn * 32 + j * 8 + 2 * tg;
                    if (row < m && col < g.cout) *reinterpret_cast<float2*>(mine + (long long) row * g.cout + col) = make_float2(acc[i][j][2 * h], acc[i][j][2 * h + 1]);
                }
        __threadfence();
        __syncthreads();
        int* counter = counters + blockIdx.y * gridDim.x + blockIdx.x;
        if (tid == 0) lastBlock = atomicAdd(counter, 1) == splits - 1;
        __syncthreads();
        if (!lastBlock) return;
        __threadfence();
        // the tile's sums, four columns a thread at a time (16-byte loads past L1, two splits in flight), in split order;
        // output channels are a multiple of 8, so four columns from a multiple of 4 are all in or all out
        float sum[CM_BM * CM_BN / 4 / 128][4];
#pragma unroll
        for (int u = 0; u < CM_BM * CM_BN / 4 / 128; u++) sum[u][0] = sum[u][1] = sum[u][2] = sum[u][3] = 0.0f;
        for (int q = 0; q < splits; q += 2) {
            float4 a[CM_BM * CM_BN / 4 / 128], b[CM_BM * CM_BN / 4 / 128];
#pragma unroll
            for (int u = 0; u < CM_BM * CM_BN / 4 / 128; u++) {
                const int e = tid + 128 * u, row = rowBase + e / (CM_BN / 4), col = colBase + (e % (CM_BN / 4)) * 4;
                const bool in = row < m && col < g.cout;
                const long long at = (long long) row * g.cout + col;
                a[u] = in ? __ldcg(reinterpret_cast<const float4*>(partials + (long long) q * m * g.cout + at)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                b[u] = in && q + 1 < splits ? __ldcg(reinterpret_cast<const float4*>(partials + (long long) (q + 1) * m * g.cout + at)) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            }
#pragma unroll
            for (int u = 0; u < CM_BM * CM_BN / 4 / 128; u++) {
                sum[u][0] += a[u].x; sum[u][1] += a[u].y; sum[u][2] += a[u].z; sum[u][3] += a[u].w;
                sum[u][0] += b[u].x; sum[u][1] += b[u].y; sum[u][2] += b[u].z; sum[u][3] += b[u].w;
            }
        }
        if (tid == 0) *counter = 0;
#pragma unroll
        for (int u = 0; u < CM_BM * CM_BN / 4 / 128; u++) {
            const int e = tid + 128 * u, row = rowBase + e / (CM_BN / 4), col = colBase + (e % (CM_BN / 4)) * 4;
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
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int row = rowBase + wm * 32 + i * 16 + gr + (e >> 1) * 8, col = colBase + wn * 32 + j * 8 + 2 * tg + (e & 1);
                if (row < m && col < g.cout) {
                    const long long at = (long long) row * g.cout + col;
                    float v = acc[i][j][e] + (bias ? LD_T(bias, col) : 0.0f);
                    if (residual) v += LD_T(residual, at);
                    y[at] = tessel_f2h(tessel_cm_act(v, relu));
                }
            }
}
