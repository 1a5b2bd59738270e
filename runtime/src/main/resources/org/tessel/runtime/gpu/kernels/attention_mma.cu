// tessel.attention.mma: O = softmax(scale * Q K^T + mask) V per (batch, head) on tensor cores (f16
// operands, f32 accumulate and f32 softmax), reading the head split straight from the projections'
// [B][S][H*D] rows like tessel.attention.bshd: element (b, s, h, d) of Q is
// q[(b * Sq + s) * ldq + h * HEAD_DIM + d], likewise K, V and O. One block per (64 queries, b, h),
// 4 warps of 16 query rows each. Per 64-key tile: K and V copied row-major into shared memory by
// cp.async (16 bytes a thread, keys past Sk zero-filled), the next tile's copy in flight while this one
// is computed (two stages for HEAD_DIM <= 64, one above, to stay within 48 KB of static shared memory);
// S = Q K^T with mma.sync m16n8k16 (Q's fragments stay in registers, K's read as 32-bit words), V's
// B fragments by ldmatrix.trans (two 8-wide d tiles a load), online softmax on the
// accumulators in registers (running max and sum per row, the 4 lanes of a quad share a row), P
// rounded to f16 is re-used as the A fragment of O += P V without leaving registers. The optional
// additive mask, broadcast over heads, is mask[b * mask_b + query * mask_q + key]: PER_QUERY_MASK 0
// compiles the key-mask kernel (one value per (batch, key), mask_q unused), 1 the per-query mask
// [B|1,1,Sq,Sk] (two rows per thread); mask_b = 0 broadcasts over the batch. A row whose every
// score is -inf gives NaN like Softmax (nan_rows = 1) or 0 under SDPA's NaN guard (nan_rows = 0).
// Needs HEAD_DIM a multiple of 16 (<= 128); every ld a multiple of 8 and buffers 16-byte aligned
// (the caller checks before choosing this kernel).
#ifndef PER_QUERY_MASK
#define PER_QUERY_MASK 0
#endif
#define MMA_WARPS 4
#define MMA_BM (MMA_WARPS * 16)
#define MMA_BN 64
#define KV_LD (HEAD_DIM + 8)
#if HEAD_DIM <= 64
#define KV_STAGES 2
#else
#define KV_STAGES 1
#endif
#define QK_STEPS (HEAD_DIM / 16)
#define O_TILES (HEAD_DIM / 8)
#define S_TILES (MMA_BN / 8)
#define CHUNKS (HEAD_DIM / 8)

// the helpers (tessel_mma_f16, cp.async, ldmatrix) come from mma.cuh, included before this file

// K and V rows [j0, j0 + MMA_BN) of this (batch, head) into stage buffers ksb, vsb (row-major, KV_LD apart)
__device__ __forceinline__ void tessel_attention_load_tile(unsigned short* ksb, unsigned short* vsb, const unsigned short* kb,
                                                           const unsigned short* vb, long long ldk, long long ldv, int j0, int Sk) {
    for (int e = threadIdx.x; e < MMA_BN * CHUNKS; e += MMA_WARPS * 32) {
        int r = e / CHUNKS, c = (e - r * CHUNKS) * 8, key = j0 + r;
        bool in = key < Sk;
        tessel_cp_async16(tessel_smem_addr(ksb + r * KV_LD + c), in ? (const void*) (kb + (long long) key * ldk + c) : (const void*) kb, in ? 16 : 0);
        tessel_cp_async16(tessel_smem_addr(vsb + r * KV_LD + c), in ? (const void*) (vb + (long long) key * ldv + c) : (const void*) vb, in ? 16 : 0);
    }
}

extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32, HEAD_DIM <= 64 ? 4 : 3)
tessel_attention_mma(const unsigned short* __restrict__ q, const unsigned short* __restrict__ k, const unsigned short* __restrict__ v,
                     const unsigned short* __restrict__ mask, unsigned short* __restrict__ o, int Sq, int Sk, int heads,
                     long long ldq, long long ldk, long long ldv, long long ldo, long long mask_b, long long mask_q, float scale, int nan_rows) {
    __shared__ __align__(16) unsigned short ks[KV_STAGES][MMA_BN * KV_LD];
    __shared__ __align__(16) unsigned short vs[KV_STAGES][MMA_BN * KV_LD];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tg = lane & 3;
    int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
    int r0 = blockIdx.x * MMA_BM + warp * 16 + g, r1 = r0 + 8; // this thread's two query rows
    bool in0 = r0 < Sq, in1 = r1 < Sq;
    const unsigned short* qb = q + (long long) b * Sq * ldq + (long long) h * HEAD_DIM;
    const unsigned short* kb = k + (long long) b * Sk * ldk + (long long) h * HEAD_DIM;
    const unsigned short* vb = v + (long long) b * Sk * ldv + (long long) h * HEAD_DIM;
    const unsigned short* mrow = mask != 0 ? mask + (long long) b * mask_b : 0;
#if PER_QUERY_MASK
    // rows past Sq read row 0's mask (their scores are never stored)
    const unsigned short* mrow0 = mrow != 0 ? mrow + (long long) (in0 ? r0 : 0) * mask_q : 0;
    const unsigned short* mrow1 = mrow != 0 ? mrow + (long long) (in1 ? r1 : 0) * mask_q : 0;
#endif

    unsigned qa[QK_STEPS][4];
    tessel_mma_load_q<QK_STEPS>(qa, qb, ldq, r0, r1, in0, in1, tg);
    float acc[O_TILES][4];
#pragma unroll
    for (int n = 0; n < O_TILES; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float m0 = TESSEL_NEG_INF, m1 = TESSEL_NEG_INF, l0 = 0.0f, l1 = 0.0f;

    int tiles = (Sk + MMA_BN - 1) / MMA_BN;
    tessel_attention_load_tile(ks[0], vs[0], kb, vb, ldk, ldv, 0, Sk);
    tessel_cp_async_commit();
    for (int t = 0; t < tiles; t++) {
        int j0 = t * MMA_BN, st = KV_STAGES == 2 ? (t & 1) : 0;
#if KV_STAGES == 2
        // the next tile's copy goes to the other stage, which the previous iteration finished with (its last barrier)
        if (t + 1 < tiles) tessel_attention_load_tile(ks[st ^ 1], vs[st ^ 1], kb, vb, ldk, ldv, j0 + MMA_BN, Sk);
        tessel_cp_async_commit(); // an empty group on the last tile keeps "all but one" meaning "this tile's"
        tessel_cp_async_wait_all_but_one();
#else
        tessel_cp_async_wait_all();
#endif
        __syncthreads();
        const unsigned short* kst = ks[st];
        const unsigned short* vst = vs[st];

        float sc[S_TILES][4];
        tessel_mma_scores<QK_STEPS, S_TILES, KV_LD>(sc, qa, kst, g, tg);
        // scale, mask, bounds; C fragment: [0], [1] = row g, keys 2t, 2t+1; [2], [3] = row g+8
        float mx0 = TESSEL_NEG_INF, mx1 = TESSEL_NEG_INF;
#pragma unroll
        for (int n = 0; n < S_TILES; n++) {
#pragma unroll
            for (int c = 0; c < 2; c++) {
                int key = j0 + n * 8 + 2 * tg + c;
#if PER_QUERY_MASK
                float add0 = key < Sk && mrow != 0 ? tessel_h2f(mrow0[key]) : 0.0f;
                float add1 = key < Sk && mrow != 0 ? tessel_h2f(mrow1[key]) : 0.0f;
#else
                float add0 = key < Sk && mrow != 0 ? tessel_h2f(mrow[key]) : 0.0f, add1 = add0;
#endif
                float x0 = key < Sk ? fmaf(sc[n][c], scale, add0) : TESSEL_NEG_INF;
                float x1 = key < Sk ? fmaf(sc[n][c + 2], scale, add1) : TESSEL_NEG_INF;
                sc[n][c] = x0;
                sc[n][c + 2] = x1;
                mx0 = fmaxf(mx0, x0);
                mx1 = fmaxf(mx1, x1);
            }
        }
        tessel_mma_softmax_pv<S_TILES, O_TILES, KV_LD>(sc, acc, mx0, mx1, m0, m1, l0, l1, vst, lane);
        __syncthreads(); // every warp is done with this stage before it is refilled
#if KV_STAGES == 1
        if (t + 1 < tiles) {
            tessel_attention_load_tile(ks[0], vs[0], kb, vb, ldk, ldv, j0 + MMA_BN, Sk);
            tessel_cp_async_commit();
        }
#endif
    }
    tessel_mma_row_sums(l0, l1);
    float empty = nan_rows ? __int_as_float(0x7fc00000) : 0.0f; // a row whose every score is -inf
    float i0 = l0 > 0.0f ? 1.0f / l0 : empty, i1 = l1 > 0.0f ? 1.0f / l1 : empty;
    unsigned short* ob = o + (long long) b * Sq * ldo + (long long) h * HEAD_DIM;
#pragma unroll
    for (int n = 0; n < O_TILES; n++) {
        int d = n * 8 + 2 * tg;
        if (in0) *reinterpret_cast<unsigned*>(ob + (long long) r0 * ldo + d) = tessel_pack_f16x2(acc[n][0] * i0, acc[n][1] * i0);
        if (in1) *reinterpret_cast<unsigned*>(ob + (long long) r1 * ldo + d) = tessel_pack_f16x2(acc[n][2] * i1, acc[n][3] * i1);
    }
}
