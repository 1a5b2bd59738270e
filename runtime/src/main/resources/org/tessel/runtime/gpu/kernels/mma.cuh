// Tensor-core and asynchronous-copy helpers shared by the mma kernels (attention_mma.cu, paged_prefill_mma.cu):
// mma.sync m16n8k16 f16 -> f32, f16 packing, shared-memory addresses, cp.async 16-byte copies, ldmatrix.trans.
#ifndef TESSEL_MMA_CUH
#define TESSEL_MMA_CUH
__device__ __forceinline__ void tessel_mma_f16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ unsigned tessel_pack_f16x2(float lo, float hi) {
    return (unsigned) tessel_f2h(lo) | ((unsigned) tessel_f2h(hi) << 16);
}
__device__ __forceinline__ unsigned tessel_smem_addr(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}
// 16 bytes global -> shared, asynchronously; bytes = 0 fills the 16 bytes with zeros (src is not read)
__device__ __forceinline__ void tessel_cp_async16(unsigned dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void tessel_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void tessel_cp_async_wait_all_but_one() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }
__device__ __forceinline__ void tessel_cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
// four 8x8 b16 matrices from shared memory, transposed: lanes 8m..8m+7 give matrix m's row addresses
__device__ __forceinline__ void tessel_ldmatrix_x4_trans(unsigned* r, unsigned addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
#endif
