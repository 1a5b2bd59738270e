// tessel.paged_prefill: causal attention of a prefill chunk's new tokens over a paged KV cache (the
// sequence's cached tokens and the chunk's own, already appended by tessel_paged_kv_append), the
// prefill half of tessel.PagedAttention. Pools [num_blocks][kv_heads][block_size][HEAD_DIM] as in
// paged_attention.cu; q and out [batch][n_new][heads][HEAD_DIM]; slots [batch][n_new] (-1: padding,
// after a row's real tokens); context_lens [batch] = tokens after the step. With R real tokens in
// row b, new token i sits at position context_lens[b] - R + i and attends to positions 0 .. its own;
// a padding token's output is 0. Query head h reads KV head h / (heads / kv_heads).
// Storage f16 (PP_BF16 0) or bf16 (PP_BF16 1), f32 math.
//
// Grid (n_new, heads, batch), 128 threads: each thread takes tokens t = tid, tid + 128, ... for the
// scores (kept in dynamic shared memory, 32 + max_blocks * block_size floats), a block-wide max and
// sum, then each thread takes output dimensions d = tid, tid + 128, ... summing p_t * v_t[d] in
// token order (fixed order: results do not depend on timing).
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

extern "C" __global__ void __launch_bounds__(128)
tessel_paged_prefill(unsigned short* __restrict__ out, const unsigned short* __restrict__ q,
                     const pp_kv_t* __restrict__ k_pool, const pp_kv_t* __restrict__ v_pool,
                     const int* __restrict__ block_tables, const int* __restrict__ slots, const int* __restrict__ context_lens,
                     int n_new, int heads, int kv_heads, int block_size, int max_blocks, float scale, float k_scale, float v_scale) {
    extern __shared__ float pp_shared[];
    float* red = pp_shared;
    float* sc = pp_shared + 32;
    const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
    int real = 0;
    while (real < n_new && slots[b * n_new + real] >= 0) real++;
    const long long row = (((long long) b * n_new + i) * heads + h) * HEAD_DIM;
    unsigned short* o = out + row;
    int len = i < real ? context_lens[b] - real + i + 1 : 0;
    if (len > max_blocks * block_size) len = max_blocks * block_size;
    if (len <= 0) {
        for (int d = tid; d < HEAD_DIM; d += blockDim.x) o[d] = pp_store(0.0f);
        return;
    }
    const int g = h / (heads / kv_heads);
    const unsigned short* qr = q + row;
    const int* table = block_tables + (long long) b * max_blocks;
    float mx = TESSEL_NEG_INF;
    for (int t = tid; t < len; t += blockDim.x) {
        const long long blk = table[t / block_size];
        const pp_kv_t* kr = k_pool + ((blk * kv_heads + g) * block_size + t % block_size) * HEAD_DIM;
        float dot = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) dot += pp_load(qr[d]) * pp_kv(kr[d], k_scale);
        float s = dot * scale;
        sc[t] = s;
        mx = fmaxf(mx, s);
    }
    mx = tessel_block_max(mx, red);
    float sum = 0.0f;
    for (int t = tid; t < len; t += blockDim.x) {
        float e = expf(sc[t] - mx);
        sc[t] = e;
        sum += e;
    }
    sum = tessel_block_sum(sum, red);
    const float inv = 1.0f / sum;
    for (int d = tid; d < HEAD_DIM; d += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < len; t++) {
            const long long blk = table[t / block_size];
            acc += sc[t] * pp_kv(v_pool[((blk * kv_heads + g) * block_size + t % block_size) * HEAD_DIM + d], v_scale);
        }
        o[d] = pp_store(acc * inv);
    }
}
