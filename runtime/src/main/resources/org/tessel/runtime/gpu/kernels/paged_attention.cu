// tessel.paged_attention: decode attention (one query token per sequence) over a paged KV cache,
// vLLM's PagedAttention with the flash-decoding split. The cache is two pools of fixed-size blocks
// laid out like the CPU PagedKvCache, [num_blocks][kv_heads][block_size][HEAD_DIM] (a block's
// slots for one KV head are contiguous), read through each sequence's block table
// block_tables[seq * max_blocks + t / block_size]; token t of a sequence sits in slot
// t % block_size. q and out are [batch][heads][HEAD_DIM]; query head h reads KV head
// h / (heads / kv_heads) (grouped-query attention). Storage f16 (PA_BF16 0) or bf16 (PA_BF16 1),
// f32 math; scores are scale * q.k; softmax in f32 with the partition's max subtracted.
//
// tessel_paged_attention: grid (partitions, heads / HPB, batch), PA_THREADS threads. Block (p, g, s)
// takes tokens [p * partition_size, min((p + 1) * partition_size, len)) of sequence s for query heads
// g * HPB ... g * HPB + HPB - 1, which share one KV head, so each K and V row is read once for all
// HPB heads. A token's row is HEAD_DIM / 8 16-byte chunks, one per thread (TPT threads per token, TPW
// tokens per warp step, PA_UNROLL steps of loads in flight per warp). Pass 1: q.k per token and head,
// reduced over the token's TPT lanes, into shared memory; the partition's softmax per head (one warp
// per head); pass 2: sum of p * v, reduced over the warp's tokens by shuffles and over the warps in
// shared memory (fixed order, so results do not depend on timing). With one partition (gridDim.x == 1)
// the block writes out; else the partition's normalised output, max score and sum of exponentials
// go to part_out [batch][heads][partitions][HEAD_DIM], part_max and part_sum [batch][heads][partitions]
// and tessel_paged_attention_reduce combines them. Partitions starting at or past a sequence's
// length do nothing; a sequence of length 0 gets zeros.
//
// Fused append (k_new non-null, a decode step's one new token per sequence): k_new and v_new hold sequence s's new key
// and value rows ([kv_heads][HEAD_DIM], at element s * ld_k and s * ld_v) and slots[s] their pool slot (block *
// block_size + slot, -1: none). For a sequence whose slot is not -1 the block whose partition holds position len - 1
// (the new token's) reads that position from k_new and v_new, as the pool will hold it (FP8: the code
// e4m3(x / scale) tessel_paged_kv_append stores, read back as code * scale), never from the pool, which no grid-wide
// order lets it see written; and one block per (sequence, KV head), the last partition's of the KV head's first head
// group, writes the rows into the pools (k_dst and v_dst: k_pool and v_pool, written only at these slots, which no
// block reads). A slot of -1 writes nothing and reads position len - 1 from the pool, as the two launches would.
// The slot must be position len - 1's slot by the block table, and no other sequence of the step may read it.
//
// FP8 cache (PA_FP8 1, needs fp8.cuh): the pools hold E4M3 codes, one byte an element, at one f32 scale per pool
// (k_scale, v_scale); a token's row is HEAD_DIM / 16 16-byte chunks of 16 codes, each dequantized in registers as
// code * scale (one f32 multiply), so a step reads half the bytes of f16. q and out stay f16 or bf16. Unused
// (1.0) for 16-bit pools.
//
// Rotary embedding (PA_ROPE 1, tactic tessel.attention.paged on a fused rope_attention group): q_cos / q_sin, when not
// null, rotate q as the block loads it, and k_cos / k_sin the new key rows before they are staged and stored (so the pool
// holds the rotated key): y_i = x_i cos_i - x_{i+D/2} sin_i, y_{i+D/2} = x_{i+D/2} cos_{i+D/2} + x_i sin_{i+D/2} (i < D/2),
// f32 math and one rounding to the storage type, as tessel_rope computes them. Head h of sequence s reads its cos/sin
// row (HEAD_DIM values) at s * cs_b + h * cs_h elements (0 on a broadcast axis). The block rotates its HPB query heads
// and its KV head's new key into shared memory before anything else.
//
// Compiled per HEAD_DIM, HPB, PA_BLOCK_SIZE (tokens per block), PA_BF16, PA_FP8 and PA_ROPE.
// Needs HEAD_DIM / PA_EPT to divide 32, HPB <= 8, partition_size <= PA_MAX_PARTITION, 16-byte aligned q and
// pools (the host checks).
#ifndef PA_BF16
#define PA_BF16 0
#endif
#ifndef PA_FP8
#define PA_FP8 0
#endif
#ifndef PA_ROPE
#define PA_ROPE 0
#endif
#if PA_FP8
#define PA_EPT 16
typedef unsigned char pa_kv_t;
#else
#define PA_EPT 8
typedef unsigned short pa_kv_t;
#endif
#define PA_WARPS 4
#define PA_THREADS (PA_WARPS * 32)
#define PA_UNROLL 4
#define PA_MAX_PARTITION 512
#define TPT (HEAD_DIM / PA_EPT)
#define TPW (32 / TPT)
#define PA_STEP (PA_WARPS * TPW * PA_UNROLL)

__device__ __forceinline__ void pa_unpack8(uint4 u, float* f) {
    unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
#if PA_BF16
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
#else
        f[2 * i] = tessel_h2f((unsigned short) (w[i] & 0xffffu));
        f[2 * i + 1] = tessel_h2f((unsigned short) (w[i] >> 16));
#endif
    }
}
// one 16-byte chunk of the pool: 8 16-bit elements, or 16 E4M3 codes times the pool's scale
__device__ __forceinline__ void pa_unpack_kv(uint4 u, float* f, float scale) {
#if PA_FP8
    unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 16; i++) f[i] = __fmul_rn(tessel_e4m32f((unsigned char) ((w[i >> 2] >> (8 * (i & 3))) & 0xffu)), scale);
#else
    (void) scale;
    pa_unpack8(u, f);
#endif
}
// the new token's chunk e of a KV row as the pool stores it: 8 16-bit elements copied, or 16 elements (two 16-byte
// loads) quantized to E4M3 codes as tessel_paged_kv_append does (e4m3(x / scale), an f32 division; not inlined, so
// the 16 divisions, run once a block, do not cost the main loops registers)
#if PA_FP8
__device__ __noinline__ uint4 pa_new_chunk(const unsigned short* row, int e, float scale) {
    float f[16];
    pa_unpack8(*reinterpret_cast<const uint4*>(row + e * 16), f);
    pa_unpack8(*reinterpret_cast<const uint4*>(row + e * 16 + 8), f + 8);
    unsigned w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
    for (int i = 0; i < 16; i++) w[i >> 2] |= (unsigned) tessel_f2e4m3(__fdiv_rn(f[i], scale)) << (8 * (i & 3));
    return make_uint4(w[0], w[1], w[2], w[3]);
}
#else
__device__ __forceinline__ uint4 pa_new_chunk(const unsigned short* row, int e, float) { return *reinterpret_cast<const uint4*>(row + e * 8); }
#endif
__device__ __forceinline__ unsigned short pa_store(float f) {
#if PA_BF16
    return tessel_f2bf(f);
#else
    return tessel_f2h(f);
#endif
}

#if PA_ROPE
__device__ __forceinline__ float pa_ld(const unsigned short* p, int i) {
#if PA_BF16
    return __uint_as_float(((unsigned) p[i]) << 16);
#else
    return tessel_h2f(p[i]);
#endif
}
// pair (i, i + HEAD_DIM / 2) of head row x rotated by cos/sin rows cs, sn into y, as tessel_rope does
__device__ __forceinline__ void pa_rotate(const unsigned short* x, const unsigned short* cs, const unsigned short* sn, unsigned short* y, int i) {
    const int half = HEAD_DIM / 2;
    const float a = pa_ld(x, i), b = pa_ld(x, i + half);
    y[i] = pa_store(a * pa_ld(cs, i) - b * pa_ld(sn, i));
    y[i + half] = pa_store(b * pa_ld(cs, i + half) + a * pa_ld(sn, i + half));
}
#endif

extern "C" __global__ void __launch_bounds__(PA_THREADS)
tessel_paged_attention(unsigned short* __restrict__ out, float* __restrict__ part_out, float* __restrict__ part_max, float* __restrict__ part_sum,
                       const unsigned short* __restrict__ q, const pa_kv_t* __restrict__ k_pool, const pa_kv_t* __restrict__ v_pool,
                       const int* __restrict__ block_tables, const int* __restrict__ context_lens,
                       pa_kv_t* k_dst, pa_kv_t* v_dst, const unsigned short* __restrict__ k_new, const unsigned short* __restrict__ v_new,
                       const int* __restrict__ slots, long long ld_k, long long ld_v,
                       int heads, int kv_heads, int max_blocks, int partition_size, float scale, float k_scale, float v_scale,
                       const unsigned short* __restrict__ q_cos, const unsigned short* __restrict__ q_sin, long long q_cs_b, long long q_cs_h,
                       const unsigned short* __restrict__ k_cos, const unsigned short* __restrict__ k_sin, long long k_cs_b, long long k_cs_h) {
    const int block_size = PA_BLOCK_SIZE; // compiled in: t / block_size is a multiply and shift (a shift for powers of two)
    // logits [HPB][partition_size], then (after pass 2) the warps' partial outputs [PA_WARPS][HPB][HEAD_DIM]
    extern __shared__ __align__(16) float pa_smem[];
    __shared__ float pa_max[HPB], pa_sum[HPB];
    __shared__ int pa_blocks[PA_MAX_PARTITION + 1]; // a partition of P tokens spans at most P / block_size + 1 blocks
    __shared__ uint4 pa_new[2][TPT];                // the new token's K and V row chunks as the pool stores them (fused append)
    const int part = blockIdx.x, nparts = gridDim.x, seq = blockIdx.z;
    const int group = heads / kv_heads, h0 = blockIdx.y * HPB, kvh = h0 / group;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, tg = lane / TPT, c = lane - tg * TPT;
    const int len = context_lens[seq], start = part * partition_size;
    // Before waiting for the kernel before (programmatic dependent launch): what no kernel of this step writes. The lengths
    // and block tables are the step's inputs, and the pool's rows before position len - 1 were written by earlier steps, so
    // the block ids and the warp's first K rows load here, behind the previous kernel's tail. Row len - 1 (the new token's:
    // this launch's fused append, or an append kernel just before) and q load after the wait. (V rows too took 168
    // registers, and 3 blocks an SM ran batch 64 at 16,384 tokens 9% slower on the H100; K alone keeps 128.)
    const int end = min(start + partition_size, len), n = end - start;
    const int b_first = (int) ((unsigned) start / (unsigned) block_size), nb = start < len ? (int) ((unsigned) (end - 1) / (unsigned) block_size) - b_first + 1 : 0;
    for (int i = tid; i < nb; i += PA_THREADS) pa_blocks[i] = block_tables[(long long) seq * max_blocks + b_first + i];
    __syncthreads();
    const long long head_stride = (long long) block_size * HEAD_DIM, block_stride = (long long) kv_heads * head_stride;
    const long long chunk = (long long) kvh * head_stride + c * PA_EPT;
    const int t_first = start + warp * TPW * PA_UNROLL; // the warp's first iteration of pass 1
    uint4 k_pre[PA_UNROLL];
#pragma unroll
    for (int u = 0; u < PA_UNROLL; u++) {
        const int t = t_first + u * TPW + tg;
        k_pre[u] = make_uint4(0u, 0u, 0u, 0u);
        if (t < end && t < len - 1) {
            const int b = (int) ((unsigned) t / (unsigned) block_size);
            const long long at = pa_blocks[b - b_first] * block_stride + chunk + (long long) (t - b * block_size) * HEAD_DIM;
            k_pre[u] = *reinterpret_cast<const uint4*>(k_pool + at);
        }
    }
    tessel_pdl();  // waits for the kernel before it (a programmatic launch may start early), then lets the next one launch
    const long long row0 = (long long) seq * heads + h0; // (seq, h0)'s row of q, out and the partition arrays
    const unsigned short* q_rows = q + row0 * HEAD_DIM;  // the block's HPB query rows as pass 1 reads them
    const unsigned short* k_row = k_new == nullptr ? nullptr : k_new + seq * ld_k + kvh * HEAD_DIM; // the new key row (fused append)
#if PA_ROPE
    __shared__ __align__(16) unsigned short pa_qrot[HPB * HEAD_DIM], pa_krot[HEAD_DIM];
    if (q_cos != nullptr && start < len) {
        for (int e = tid; e < HPB * (HEAD_DIM / 2); e += PA_THREADS) {
            const int h = e / (HEAD_DIM / 2), i = e - h * (HEAD_DIM / 2);
            const long long cs = seq * q_cs_b + (h0 + h) * q_cs_h;
            pa_rotate(q_rows + h * HEAD_DIM, q_cos + cs, q_sin + cs, pa_qrot + h * HEAD_DIM, i);
        }
        q_rows = pa_qrot;
    }
    if (k_cos != nullptr && k_row != nullptr) {
        const long long cs = seq * k_cs_b + kvh * k_cs_h;
        for (int i = tid; i < HEAD_DIM / 2; i += PA_THREADS) pa_rotate(k_row, k_cos + cs, k_sin + cs, pa_krot, i);
        k_row = pa_krot;
    }
    __syncthreads();
#else
    (void) q_cos; (void) q_sin; (void) q_cs_b; (void) q_cs_h; (void) k_cos; (void) k_sin; (void) k_cs_b; (void) k_cs_h;
#endif
    // fused append: the position read from k_new and v_new (-1: none in this block), published by the barrier below
    int new_t = -1;
    if (k_new != nullptr) {
        const int at = slots[seq];
        if (at >= 0) {
            const bool stages = len >= 1 && len - 1 >= start && len - 1 - start < partition_size;
            // one writer per (sequence, KV head): the KV head's first head group, the partition holding len - 1 (the last
            // launched one should the plan fall short, a length of 0 the first)
            const bool writes = h0 % group == 0 && part == min(max(len - 1, 0) / partition_size, nparts - 1);
            if (stages) new_t = len - 1;
            if (stages || writes) {
                const unsigned short* kr = k_row;
                const unsigned short* vr = v_new + seq * ld_v + kvh * HEAD_DIM;
                const long long dst = (((long long) (at / block_size) * kv_heads + kvh) * block_size + at % block_size) * HEAD_DIM;
                if (tid < TPT) { // TPT <= 32: one chunk a lane of warp 0
                    const int e = tid;
                    uint4 kc = pa_new_chunk(kr, e, k_scale), vc = pa_new_chunk(vr, e, v_scale);
                    if (stages) {
                        pa_new[0][e] = kc;
                        pa_new[1][e] = vc;
                    }
                    if (writes) {
                        *reinterpret_cast<uint4*>(k_dst + dst + e * PA_EPT) = kc;
                        *reinterpret_cast<uint4*>(v_dst + dst + e * PA_EPT) = vc;
                    }
                }
            }
        }
    }
    if (start >= len) {
        if (nparts == 1)
            for (int e = tid; e < HPB * HEAD_DIM; e += PA_THREADS) out[row0 * HEAD_DIM + e] = 0;
        return;
    }
    __syncthreads(); // the new token's staged rows (pa_new) are published
    float* logits = pa_smem;

    // pass 1: scores
    {
        float qf[HPB][PA_EPT];
#pragma unroll
        for (int h = 0; h < HPB; h++) {
#pragma unroll
            for (int i = 0; i < PA_EPT / 8; i++) pa_unpack8(*reinterpret_cast<const uint4*>(q_rows + h * HEAD_DIM + c * PA_EPT + i * 8), qf[h] + i * 8);
#pragma unroll
            for (int j = 0; j < PA_EPT; j++) qf[h][j] *= scale;
        }
        for (int t0 = start + warp * TPW * PA_UNROLL; t0 < end; t0 += PA_STEP) { // warp-uniform
            uint4 kr[PA_UNROLL];
#pragma unroll
            for (int u = 0; u < PA_UNROLL; u++) {
                int t = t0 + u * TPW + tg;
                kr[u] = make_uint4(0u, 0u, 0u, 0u);
                if (t == new_t) {
                    kr[u] = pa_new[0][c];
                } else if (t0 == t_first && t < len - 1) {
                    kr[u] = k_pre[u];
                } else if (t < end) {
                    int b = (int) ((unsigned) t / (unsigned) block_size); // t >= 0: no sign fix-up
                    kr[u] = *reinterpret_cast<const uint4*>(k_pool + pa_blocks[b - b_first] * block_stride + chunk + (long long) (t - b * block_size) * HEAD_DIM);
                }
            }
#pragma unroll
            for (int u = 0; u < PA_UNROLL; u++) {
                int t = t0 + u * TPW + tg;
                float kf[PA_EPT];
                pa_unpack_kv(kr[u], kf, k_scale);
#pragma unroll
                for (int h = 0; h < HPB; h++) {
                    float s = 0.0f;
#pragma unroll
                    for (int j = 0; j < PA_EPT; j++) s = fmaf(qf[h][j], kf[j], s);
#pragma unroll
                    for (int o = TPT / 2; o > 0; o >>= 1) s += __shfl_xor_sync(TESSEL_FULL_MASK, s, o);
                    if (c == 0 && t < end) logits[h * partition_size + (t - start)] = s;
                }
            }
        }
    }
    __syncthreads();
    // the partition's softmax, one warp per head
    for (int h = warp; h < HPB; h += PA_WARPS) {
        float* lh = logits + h * partition_size;
        float m = TESSEL_NEG_INF;
        for (int i = lane; i < n; i += 32) m = fmaxf(m, lh[i]);
        m = tessel_warp_max(m);
        float sum = 0.0f;
        for (int i = lane; i < n; i += 32) {
            float e = expf(lh[i] - m);
            lh[i] = e;
            sum += e;
        }
        sum = tessel_warp_sum(sum);
        if (lane == 0) {
            pa_max[h] = m;
            pa_sum[h] = sum;
        }
    }
    __syncthreads();

    // pass 2: sum of p * v over the partition's tokens
    float acc[HPB][PA_EPT];
#pragma unroll
    for (int h = 0; h < HPB; h++)
#pragma unroll
        for (int j = 0; j < PA_EPT; j++) acc[h][j] = 0.0f;
    for (int t0 = start + warp * TPW * PA_UNROLL; t0 < end; t0 += PA_STEP) {
        uint4 vr[PA_UNROLL];
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
            int t = t0 + u * TPW + tg;
            vr[u] = make_uint4(0u, 0u, 0u, 0u);
            if (t == new_t) {
                vr[u] = pa_new[1][c];
            } else if (t < end) {
                int b = (int) ((unsigned) t / (unsigned) block_size);
                vr[u] = *reinterpret_cast<const uint4*>(v_pool + pa_blocks[b - b_first] * block_stride + chunk + (long long) (t - b * block_size) * HEAD_DIM);
            }
        }
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
            int t = t0 + u * TPW + tg;
            if (t < end) {
                float vf[PA_EPT];
                pa_unpack_kv(vr[u], vf, v_scale);
#pragma unroll
                for (int h = 0; h < HPB; h++) {
                    float p = logits[h * partition_size + (t - start)];
#pragma unroll
                    for (int j = 0; j < PA_EPT; j++) acc[h][j] = fmaf(p, vf[j], acc[h][j]);
                }
            }
        }
    }
    // over the warp's tokens: lanes with the same chunk c are TPT apart
#pragma unroll
    for (int o = TPT; o < 32; o <<= 1)
#pragma unroll
        for (int h = 0; h < HPB; h++)
#pragma unroll
            for (int j = 0; j < PA_EPT; j++) acc[h][j] += __shfl_xor_sync(TESSEL_FULL_MASK, acc[h][j], o);
    __syncthreads(); // every warp is done with the logits: the buffer takes the warps' partial outputs
    float* red = pa_smem;
    if (tg == 0)
#pragma unroll
        for (int h = 0; h < HPB; h++) {
            float4* dst = reinterpret_cast<float4*>(red + (warp * HPB + h) * HEAD_DIM + c * PA_EPT);
#pragma unroll
            for (int i = 0; i < PA_EPT / 4; i++) dst[i] = make_float4(acc[h][4 * i], acc[h][4 * i + 1], acc[h][4 * i + 2], acc[h][4 * i + 3]);
        }
    __syncthreads();
    for (int e = tid; e < HPB * HEAD_DIM; e += PA_THREADS) {
        float o = 0.0f;
#pragma unroll
        for (int w = 0; w < PA_WARPS; w++) o += red[w * HPB * HEAD_DIM + e];
        int h = e / HEAD_DIM, d = e - h * HEAD_DIM;
        o /= pa_sum[h];
        if (nparts == 1) out[(row0 + h) * HEAD_DIM + d] = pa_store(o);
        else part_out[((row0 + h) * nparts + part) * HEAD_DIM + d] = o;
    }
    if (nparts > 1 && tid < HPB) {
        long long i = (row0 + tid) * nparts + part;
        part_max[i] = pa_max[tid];
        part_sum[i] = pa_sum[tid];
    }
}

// Combines the partitions of tessel_paged_attention: grid (heads, batch), PA_THREADS threads,
// dynamic shared memory of max_parts floats. With M the largest partition max, partition i weighs
// w_i = part_sum_i * exp(part_max_i - M), and out = sum_i w_i * part_out_i / sum_i w_i over the
// sequence's ceil(len / partition_size) partitions (none: zeros).
extern "C" __global__ void __launch_bounds__(PA_THREADS)
tessel_paged_attention_reduce(unsigned short* __restrict__ out, const float* __restrict__ part_out, const float* __restrict__ part_max,
                              const float* __restrict__ part_sum, const int* __restrict__ context_lens, int heads, int max_parts, int partition_size) {
    tessel_pdl();  // waits for the kernel before it (a programmatic launch may start early), then lets the next one launch
    extern __shared__ float pa_weights[];
    __shared__ float red[32];
    const int h = blockIdx.x, seq = blockIdx.y, tid = threadIdx.x;
    const long long row = (long long) seq * heads + h;
    const int len = context_lens[seq];
    const int np = min((len + partition_size - 1) / partition_size, max_parts);
    if (np <= 0) {
        for (int d = tid; d < HEAD_DIM; d += PA_THREADS) out[row * HEAD_DIM + d] = 0;
        return;
    }
    const float* pm = part_max + row * max_parts;
    const float* ps = part_sum + row * max_parts;
    float m = TESSEL_NEG_INF;
    for (int i = tid; i < np; i += PA_THREADS) m = fmaxf(m, pm[i]);
    m = tessel_block_max(m, red);
    float s = 0.0f;
    for (int i = tid; i < np; i += PA_THREADS) {
        float w = ps[i] * expf(pm[i] - m);
        pa_weights[i] = w;
        s += w;
    }
    s = tessel_block_sum(s, red); // its barriers publish pa_weights
    const float inv = 1.0f / s;
    const float* po = part_out + row * max_parts * HEAD_DIM;
    for (int d = tid; d < HEAD_DIM; d += PA_THREADS) {
        float o = 0.0f;
        for (int i = 0; i < np; i++) o = fmaf(pa_weights[i], po[(long long) i * HEAD_DIM + d], o);
        out[row * HEAD_DIM + d] = pa_store(o * inv);
    }
}
