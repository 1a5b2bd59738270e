// tessel.paged_kv_append: writes new tokens' keys and values into the paged KV cache's pools
// [num_blocks][kv_heads][block_size][HEAD_DIM] (see paged_attention.cu) at the slots the host picked
// from each sequence's block table: token i goes to slots[i] = block * block_size + slot (a negative
// slot skips the token, e.g. a padding row). k_new and v_new hold token i's kv_heads * HEAD_DIM
// values at row i * ld_k (ld_v) elements, so a fused QKV projection's rows can be read in place.
// A bit copy (any 16-bit storage): grid = tokens, 128 threads, one 16-byte chunk per thread step.
// Needs HEAD_DIM and ld_k, ld_v multiples of 8 elements and 16-byte aligned buffers (the host checks).
//
// KV_FP8 1: the pools hold FP8 E4M3 codes (one byte an element, fp8.cuh) at one f32 scale per pool: each new
// element x (f16, or bf16 with KV_IN_BF16 1) is stored as e4m3(x / scale) (an f32 division, round to nearest even,
// saturating), 16 bytes read and 8 codes written per thread step.
#ifndef KV_FP8
#define KV_FP8 0
#endif
#if KV_FP8
#ifndef KV_IN_BF16
#define KV_IN_BF16 0
#endif
__device__ __forceinline__ unsigned int kv_quantize4(const unsigned int* w, float scale) {
    unsigned int r = 0;
#pragma unroll
    for (int i = 0; i < 2; i++) {
#if KV_IN_BF16
        float lo = tessel_bf2f((unsigned short) (w[i] & 0xffffu)), hi = tessel_bf2f((unsigned short) (w[i] >> 16));
#else
        float lo = tessel_h2f((unsigned short) (w[i] & 0xffffu)), hi = tessel_h2f((unsigned short) (w[i] >> 16));
#endif
        r |= (unsigned int) tessel_f2e4m3(__fdiv_rn(lo, scale)) << (16 * i);
        r |= (unsigned int) tessel_f2e4m3(__fdiv_rn(hi, scale)) << (16 * i + 8);
    }
    return r;
}

extern "C" __global__ void __launch_bounds__(128)
tessel_paged_kv_append(unsigned char* __restrict__ k_pool, unsigned char* __restrict__ v_pool,
                       const unsigned short* __restrict__ k_new, const unsigned short* __restrict__ v_new, const int* __restrict__ slots,
                       int kv_heads, int block_size, long long ld_k, long long ld_v, float k_scale, float v_scale) {
    const int tok = blockIdx.x, at = slots[tok];
    if (at < 0) return;
    const int b = at / block_size, slot = at - b * block_size;
    const int chunks = kv_heads * (HEAD_DIM / 8);
    for (int e = threadIdx.x; e < chunks; e += blockDim.x) {
        int h = e / (HEAD_DIM / 8), c = e - h * (HEAD_DIM / 8);
        long long dst = (((long long) b * kv_heads + h) * block_size + slot) * HEAD_DIM + c * 8;
        uint4 kr = *reinterpret_cast<const uint4*>(k_new + tok * ld_k + h * HEAD_DIM + c * 8);
        uint4 vr = *reinterpret_cast<const uint4*>(v_new + tok * ld_v + h * HEAD_DIM + c * 8);
        unsigned int kw[4] = {kr.x, kr.y, kr.z, kr.w}, vw[4] = {vr.x, vr.y, vr.z, vr.w};
        *reinterpret_cast<uint2*>(k_pool + dst) = make_uint2(kv_quantize4(kw, k_scale), kv_quantize4(kw + 2, k_scale));
        *reinterpret_cast<uint2*>(v_pool + dst) = make_uint2(kv_quantize4(vw, v_scale), kv_quantize4(vw + 2, v_scale));
    }
}
#else
extern "C" __global__ void __launch_bounds__(128)
tessel_paged_kv_append(unsigned short* __restrict__ k_pool, unsigned short* __restrict__ v_pool,
                       const unsigned short* __restrict__ k_new, const unsigned short* __restrict__ v_new, const int* __restrict__ slots,
                       int kv_heads, int block_size, long long ld_k, long long ld_v) {
    const int tok = blockIdx.x, at = slots[tok];
    if (at < 0) return;
    const int b = at / block_size, slot = at - b * block_size;
    const int chunks = kv_heads * (HEAD_DIM / 8);
    for (int e = threadIdx.x; e < chunks; e += blockDim.x) {
        int h = e / (HEAD_DIM / 8), c = e - h * (HEAD_DIM / 8);
        long long dst = (((long long) b * kv_heads + h) * block_size + slot) * HEAD_DIM + c * 8;
        *reinterpret_cast<uint4*>(k_pool + dst) = *reinterpret_cast<const uint4*>(k_new + tok * ld_k + h * HEAD_DIM + c * 8);
        *reinterpret_cast<uint4*>(v_pool + dst) = *reinterpret_cast<const uint4*>(v_new + tok * ld_v + h * HEAD_DIM + c * 8);
    }
}
#endif
