// tessel.paged_prefill: causal attention of a prefill chunk's new tokens over a paged KV cache (the
// sequence's cached tokens and the chunk's own, already appended by tessel_paged_kv_append), the
// prefill half of tessel.PagedAttention. Pools [num_blocks][kv_heads][block_size][HEAD_DIM] as in
// paged_attention.cu; q and out [batch][n_new][heads][HEAD_DIM]; slots [batch][n_new] (-1: padding,
// after a row's real tokens); context_lens [batch] = tokens after the step. With R real tokens in
// row b, new token i sits at position context_lens[b] - R + i and attends to positions 0 .. its own;
// a padding token's output is 0. Query head h reads KV head h / (heads / kv_heads).
// Storage f16 (PP_BF16 0) or bf16 (PP_BF16 1), f32 math.
//
// Packed steps (query_starts non-null, rows sequences): q and out are [n_new][heads][HEAD_DIM], all sequences' new
// tokens packed, sequence b's being tokens query_starts[b] .. query_starts[b + 1] - 1 and those from query_starts[rows]
// on padding; grid (ceil(n_new / PP_QT) + rows + 1, heads, 1): block x takes the x-th PP_QT-token tile of the sequences
// in order (a tile never spans two), then of the padding, whose output it zeroes; blocks past the last tile return.
//
// Flash-style tiles: grid (ceil(n_new / PP_QT), heads, batch), 128 threads. A block takes PP_QT (32; 16 at
// HEAD_DIM 256) of a row's new tokens for one head, stages their queries in shared memory as f32, and walks
// the keys they see in tiles of PP_KT (32, 16 or 8), each tile of K and V read once for all its queries
// (the kernel before read the whole context once per query: a [32 x 128]-token prefill step of
// llama-1b spent hundreds of ms here). Per tile: scores for the 32 x PP_KT pairs (causal mask), an
// online softmax per query (running max and sum, the accumulator rescaled), then p x V into each
// query's accumulator, 128 / PP_QT threads a query, each holding its share of HEAD_DIM in registers.
// f32 math in a fixed order: results do not depend on timing.
// FP8 cache (PP_FP8 1, needs fp8.cuh): pools of E4M3 codes read as code * k_scale (v_scale), one f32 multiply.
#ifndef PP_BF16
#define PP_BF16 0
#endif
#ifndef PP_FP8
#define PP_FP8 0
#endif
#if PP_FP8
typedef unsigned char pp_kv_t;
__device__ __forceinline__ float pp_kv(pp_kv_t c, float scale) { return __fmul_rn(tessel_e4m32f(c), scale); }
#else
typedef unsigned short pp_kv_t;
#endif
__device__ __forceinline__ float pp_load(unsigned short v) {
#if PP_BF16
    return tessel_bf2f(v);
#else
    return tessel_h2f(v);
#endif
}
#if !PP_FP8
__device__ __forceinline__ float pp_kv(pp_kv_t v, float scale) { (void) scale; return pp_load(v); }
#endif
__device__ __forceinline__ unsigned short pp_store(float f) {
#if PP_BF16
    return tessel_f2bf(f);
#else
    return tessel_f2h(f);
#endif
}

// query and key tiles within 48 KiB of static shared memory: 32 x 32 up to HEAD_DIM 64, 32 x 16 at 128, 16 x 8 at 256
#define PP_QT (HEAD_DIM > 128 ? 16 : 32)
#define PP_KT (HEAD_DIM > 128 ? 8 : HEAD_DIM > 64 ? 16 : 32)
#define PP_TPQ (128 / PP_QT)        // threads a query
#define PP_DPT (HEAD_DIM / PP_TPQ)  // output dimensions a thread

extern "C" __global__ void __launch_bounds__(128)
tessel_paged_prefill(unsigned short* __restrict__ out, const unsigned short* __restrict__ q,
                     const pp_kv_t* __restrict__ k_pool, const pp_kv_t* __restrict__ v_pool,
                     const int* __restrict__ block_tables, const int* __restrict__ slots, const int* __restrict__ context_lens,
                     int n_new, int heads, int kv_heads, int block_size, int max_blocks, float scale, float k_scale, float v_scale,
                     const int* __restrict__ query_starts, int rows) {
    __shared__ float qs[PP_QT][HEAD_DIM + 1];
    __shared__ float ks[PP_KT][HEAD_DIM + 1];
    __shared__ float vs[PP_KT][HEAD_DIM];
    __shared__ float ps[PP_QT][PP_KT + 1];
    const int h = blockIdx.y, tid = threadIdx.x;
    // the block's sequence, tile and tokens (paged_rows.cuh); a padded row's real tokens (slots >= 0 first) counted here
    tessel_paged_rows pr;
    if (!tessel_paged_block_rows(pr, query_starts, rows, n_new, PP_QT)) return;
    const int b = pr.b, i0 = pr.i0, n_row = pr.n_row;
    const long long base = pr.base;
    int real = pr.real;
    if (real < 0) {
        real = 0;
        while (real < n_new && slots[b * n_new + real] >= 0) real++;
    }
    const int g = h / (heads / kv_heads);
    const int* table = block_tables + (long long) b * max_blocks;
    const int first = real > 0 ? context_lens[b] - real : 0; // position of new token 0
    const int limit = max_blocks * block_size;
    // the queries of tokens i0 .. i0 + PP_QT - 1 (0 past the row's real tokens)
    for (int e = tid; e < PP_QT * HEAD_DIM; e += 128) {
        const int qi = e / HEAD_DIM, d = e % HEAD_DIM, i = i0 + qi;
        qs[qi][d] = i < real ? pp_load(q[((base + i) * heads + h) * HEAD_DIM + d]) : 0.0f;
    }
    // this thread's query (PP_TPQ threads a query) and output dimensions d = part + PP_TPQ j
    const int mq = tid / PP_TPQ, part = tid % PP_TPQ, mi = i0 + mq;
    const bool valid = mi < real;
    int my_len = valid ? first + mi + 1 : 0; // keys 0 .. its position
    if (my_len > limit) my_len = limit;
    float acc[PP_DPT];
    for (int j = 0; j < PP_DPT; j++) acc[j] = 0.0f;
    float m = TESSEL_NEG_INF, l = 0.0f;
    // the keys the block's last real query sees
    const int last = (i0 + PP_QT < real ? i0 + PP_QT : real) - 1;
    int keys = last >= i0 ? first + last + 1 : 0;
    if (keys > limit) keys = limit;
    for (int t0 = 0; t0 < keys; t0 += PP_KT) {
        __syncthreads(); // the previous tile's ks, vs and ps are read
        for (int e = tid; e < PP_KT * HEAD_DIM; e += 128) {
            const int kj = e / HEAD_DIM, d = e % HEAD_DIM, t = t0 + kj;
            float kv = 0.0f, vv = 0.0f;
            if (t < keys) {
                const long long at = (((long long) table[t / block_size] * kv_heads + g) * block_size + t % block_size) * HEAD_DIM + d;
                kv = pp_kv(k_pool[at], k_scale);
                vv = pp_kv(v_pool[at], v_scale);
            }
            ks[kj][d] = kv;
            vs[kj][d] = vv;
        }
        __syncthreads();
        // scores: PP_QT x PP_KT, masked past each query's own position
        for (int e = tid; e < PP_QT * PP_KT; e += 128) {
            const int qi = e / PP_KT, kj = e % PP_KT, t = t0 + kj, i = i0 + qi;
            float s = TESSEL_NEG_INF;
            if (i < real && t <= first + i && t < keys) {
                float dot = 0.0f;
                for (int d = 0; d < HEAD_DIM; d++) dot += qs[qi][d] * ks[kj][d];
                s = dot * scale;
            }
            ps[qi][kj] = s;
        }
        __syncthreads();
        if (valid && t0 < my_len) {
            // online softmax of this query's row of the tile (each of its threads the whole row: no shuffles)
            float tm = TESSEL_NEG_INF;
            for (int kj = 0; kj < PP_KT; kj++) tm = fmaxf(tm, ps[mq][kj]);
            const float nm = fmaxf(m, tm), c = expf(m - nm);
            for (int j = 0; j < PP_DPT; j++) acc[j] *= c;
            float ts = 0.0f;
            for (int kj = 0; kj < PP_KT; kj++) {
                const float p = expf(ps[mq][kj] - nm); // 0 where masked
                ts += p;
                for (int j = 0; j < PP_DPT; j++) acc[j] += p * vs[kj][part + PP_TPQ * j];
            }
            l = l * c + ts;
            m = nm;
        }
    }
    if (mi < n_row) {
        unsigned short* o = out + ((base + mi) * heads + h) * HEAD_DIM;
        const float inv = valid && l > 0.0f ? 1.0f / l : 0.0f;
        for (int j = 0; j < PP_DPT; j++) o[part + PP_TPQ * j] = pp_store(valid ? acc[j] * inv : 0.0f);
    }
}
