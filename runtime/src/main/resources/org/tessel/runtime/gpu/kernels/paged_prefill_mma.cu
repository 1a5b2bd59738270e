// tessel.paged_prefill, tensor-core form (variant "mma" of tessel.attention.paged's prefill): the causal attention of
// paged_prefill.cu (same arguments less the FP8 scales, same results within f16 rounding of the probabilities) on
// mma.sync m16n8k16, f16 pools and queries, f32 accumulation and softmax; needs mma.cuh and paged_rows.cuh before it and HEAD_DIM a
// multiple of 16 up to 128. Pools [num_blocks][kv_heads][block_size][HEAD_DIM]; q and out [batch][n_new][heads][HEAD_DIM];
// slots [batch][n_new] (-1: padding, after a row's real tokens); context_lens [batch] = tokens after the step. New token
// i of a row with R real tokens sits at position context_lens[b] - R + i and attends to positions 0 .. its own; a
// padding token's output is 0. Query head h reads KV head h / (heads / kv_heads).
//
// Packed steps (query_starts non-null, rows sequences): q and out are [n_new][heads][HEAD_DIM], all sequences' new
// tokens packed, sequence b's being tokens query_starts[b] .. query_starts[b + 1] - 1 and those from query_starts[rows]
// on padding; grid (ceil(n_new / 64) + rows + 1, heads, 1): block x takes the x-th 64-token tile of the sequences in
// order (a tile never spans two), then of the padding, whose output it zeroes; blocks past the last tile return.
//
// Grid (ceil(n_new / 64), heads, batch), 4 warps of 16 new tokens each, as attention_mma.cu's blocks: Q's fragments in
// registers; per tile of 64 keys, K and V rows copied by cp.async from the blocks the table names (zero-filled past the
// keys the block's last real token sees), the next tile's copy in flight while this one is computed (two stages at
// HEAD_DIM <= 64); S = Q K^T, the causal mask per row, an online softmax on the accumulators, P rounded to f16 as the A
// fragment of O += P V (V's fragments by ldmatrix.trans). Key tiles stop at the block's last real token's position.
#define PM_WARPS 4
#define PM_BM (PM_WARPS * 16)
#define PM_BN 64
#define PM_LD (HEAD_DIM + 8)
#if HEAD_DIM <= 64
#define PM_STAGES 2
#else
#define PM_STAGES 1
#endif
#define PM_QK (HEAD_DIM / 16)
#define PM_OT (HEAD_DIM / 8)
#define PM_ST (PM_BN / 8)
#define PM_CH (HEAD_DIM / 8)

// keys [t0, t0 + PM_BN) of KV head g, through the row's block table, into stage buffers ksb, vsb (row-major, PM_LD
// apart); keys from `keys` on are zero-filled (their source is not read)
__device__ __forceinline__ void tessel_pm_load_tile(unsigned short* ksb, unsigned short* vsb, const unsigned short* k_pool, const unsigned short* v_pool,
                                                    const int* table, int g, int kv_heads, int block_size, int t0, int keys) {
    for (int e = threadIdx.x; e < PM_BN * PM_CH; e += PM_WARPS * 32) {
        const int r = e / PM_CH, c = (e - r * PM_CH) * 8, t = t0 + r;
        const bool in = t < keys;
        const long long at = in ? (((long long) table[t / block_size] * kv_heads + g) * block_size + t % block_size) * HEAD_DIM + c : 0;
        tessel_cp_async16(tessel_smem_addr(ksb + r * PM_LD + c), (const void*) (k_pool + at), in ? 16 : 0);
        tessel_cp_async16(tessel_smem_addr(vsb + r * PM_LD + c), (const void*) (v_pool + at), in ? 16 : 0);
    }
}

extern "C" __global__ void __launch_bounds__(PM_WARPS * 32, HEAD_DIM <= 64 ? 4 : 3)
tessel_paged_prefill_mma(unsigned short* __restrict__ out, const unsigned short* __restrict__ q,
                         const unsigned short* __restrict__ k_pool, const unsigned short* __restrict__ v_pool,
                         const int* __restrict__ block_tables, const int* __restrict__ slots, const int* __restrict__ context_lens,
                         int n_new, int heads, int kv_heads, int block_size, int max_blocks, float scale,
                         const int* __restrict__ query_starts, int rows) {
    __shared__ __align__(16) unsigned short ks[PM_STAGES][PM_BN * PM_LD];
    __shared__ __align__(16) unsigned short vs[PM_STAGES][PM_BN * PM_LD];
    __shared__ int real_tokens;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gq = lane >> 2, tg = lane & 3;
    const int h = blockIdx.y;
    // the block's sequence, tile and tokens (paged_rows.cuh); a padded row's real tokens (slots >= 0 first) counted here
    tessel_paged_rows pr;
    if (!tessel_paged_block_rows(pr, query_starts, rows, n_new, PM_BM)) return;
    const int b = pr.b, i0 = pr.i0, n_row = pr.n_row;
    const long long base = pr.base;
    if (pr.real < 0) {
        if (threadIdx.x == 0) real_tokens = 0;
        __syncthreads();
        int mine = 0;
        for (int i = threadIdx.x; i < n_new; i += PM_WARPS * 32) mine += slots[(long long) b * n_new + i] >= 0 ? 1 : 0;
        if (mine) atomicAdd(&real_tokens, mine);
        __syncthreads();
    }
    const int real = pr.real < 0 ? real_tokens : pr.real;
    const int g = h / (heads / kv_heads);
    const int* table = block_tables + (long long) b * max_blocks;
    const int first = real > 0 ? context_lens[b] - real : 0; // position of new token 0
    const int limit = max_blocks * block_size;
    const int r0 = i0 + warp * 16 + gq, r1 = r0 + 8; // this thread's two new tokens (rows)
    const bool in0 = r0 < real, in1 = r1 < real;
    const int see0 = first + r0, see1 = first + r1; // the last key each row sees
    // the keys the block's last real token sees
    const int last = (i0 + PM_BM < real ? i0 + PM_BM : real) - 1;
    int keys = last >= i0 ? first + last + 1 : 0;
    if (keys > limit) keys = limit;
    const long long ldq = (long long) heads * HEAD_DIM;
    const unsigned short* qb = q + base * ldq + (long long) h * HEAD_DIM;

    unsigned qa[PM_QK][4];
    tessel_mma_load_q<PM_QK>(qa, qb, ldq, r0, r1, in0, in1, tg);
    float acc[PM_OT][4];
#pragma unroll
    for (int n = 0; n < PM_OT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float m0 = TESSEL_NEG_INF, m1 = TESSEL_NEG_INF, l0 = 0.0f, l1 = 0.0f;

    const int tiles = (keys + PM_BN - 1) / PM_BN;
    if (tiles > 0) tessel_pm_load_tile(ks[0], vs[0], k_pool, v_pool, table, g, kv_heads, block_size, 0, keys);
    tessel_cp_async_commit();
    for (int t = 0; t < tiles; t++) {
        const int j0 = t * PM_BN, st = PM_STAGES == 2 ? (t & 1) : 0;
#if PM_STAGES == 2
        // the next tile's copy goes to the other stage, which the previous iteration finished with (its last barrier)
        if (t + 1 < tiles) tessel_pm_load_tile(ks[st ^ 1], vs[st ^ 1], k_pool, v_pool, table, g, kv_heads, block_size, j0 + PM_BN, keys);
        tessel_cp_async_commit(); // an empty group on the last tile keeps "all but one" meaning "this tile's"
        tessel_cp_async_wait_all_but_one();
#else
        tessel_cp_async_wait_all();
#endif
        __syncthreads();
        const unsigned short* kst = ks[st];
        const unsigned short* vst = vs[st];

        float sc[PM_ST][4];
        tessel_mma_scores<PM_QK, PM_ST, PM_LD>(sc, qa, kst, gq, tg);
        // scale and the causal mask; C fragment: [0], [1] = row g, keys 2t, 2t+1; [2], [3] = row g+8
        float mx0 = TESSEL_NEG_INF, mx1 = TESSEL_NEG_INF;
#pragma unroll
        for (int n = 0; n < PM_ST; n++) {
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int key = j0 + n * 8 + 2 * tg + c;
                const float x0 = in0 && key < keys && key <= see0 ? sc[n][c] * scale : TESSEL_NEG_INF;
                const float x1 = in1 && key < keys && key <= see1 ? sc[n][c + 2] * scale : TESSEL_NEG_INF;
                sc[n][c] = x0;
                sc[n][c + 2] = x1;
                mx0 = fmaxf(mx0, x0);
                mx1 = fmaxf(mx1, x1);
            }
        }
        tessel_mma_softmax_pv<PM_ST, PM_OT, PM_LD>(sc, acc, mx0, mx1, m0, m1, l0, l1, vst, lane);
        __syncthreads(); // every warp is done with this stage before it is refilled
#if PM_STAGES == 1
        if (t + 1 < tiles) {
            tessel_pm_load_tile(ks[0], vs[0], k_pool, v_pool, table, g, kv_heads, block_size, j0 + PM_BN, keys);
            tessel_cp_async_commit();
        }
#endif
    }
    tessel_mma_row_sums(l0, l1);
    // padding tokens and rows past the chunk's real ones: no score, output 0
    const float inv0 = in0 && l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = in1 && l1 > 0.0f ? 1.0f / l1 : 0.0f;
    unsigned short* ob = out + base * ldq + (long long) h * HEAD_DIM;
#pragma unroll
    for (int n = 0; n < PM_OT; n++) {
        const int d = n * 8 + 2 * tg;
        if (r0 < n_row) *reinterpret_cast<unsigned*>(ob + (long long) r0 * ldq + d) = tessel_pack_f16x2(acc[n][0] * inv0, acc[n][1] * inv0);
        if (r1 < n_row) *reinterpret_cast<unsigned*>(ob + (long long) r1 * ldq + d) = tessel_pack_f16x2(acc[n][2] * inv1, acc[n][3] * inv1);
    }
}
