// tessel.paged_kv_append: writes new tokens' keys and values into the paged KV cache's pools
// [num_blocks][kv_heads][block_size][HEAD_DIM] (see paged_attention.cu) at the slots the host picked
// from each sequence's block table: token i goes to slots[i] = block * block_size + slot (a negative
// slot skips the token, e.g. a padding row). k_new and v_new hold token i's kv_heads * HEAD_DIM
// values at row i * ld_k (ld_v) elements, so a fused QKV projection's rows can be read in place.
// A bit copy (any 16-bit storage): grid = tokens, 128 threads, one 16-byte chunk per thread step.
// Needs HEAD_DIM and ld_k, ld_v multiples of 8 elements and 16-byte aligned buffers (the host checks).
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
