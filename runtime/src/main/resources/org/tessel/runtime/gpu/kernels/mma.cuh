// Tensor-core and asynchronous-copy helpers shared by the mma kernels (attention_mma.cu, paged_prefill_mma.cu,
// weight_only_gemm_mma.cu, conv_mma.cu):
// mma.sync m16n8k16 f16 -> f32 and m16n8k32 s8 -> s32, f16 packing, shared-memory addresses, cp.async 16-byte copies, ldmatrix (plain and .trans), and a
// flash-attention tile's scores and online softmax + P V on the fragments.
#ifndef TESSEL_MMA_CUH
#define TESSEL_MMA_CUH
// Each PTX wrapper is one line: the emulated device replaces such lines by host versions (EmulatedKernels, emulated_shim.h).
// D += A B, m16n8k16, f16 operands, f32 accumulators (A's fragment a[0..3], B's b0 and b1, D's c[0..3] in PTX's lane layout)
__device__ __forceinline__ void tessel_mma_f16(float* c, const unsigned* a, unsigned b0, unsigned b1) { asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1)); }
// D += A B, m16n8k32, s8 operands, s32 accumulators: the same lanes and registers as m16n8k16's, each register four int8
// values of k where m16n8k16's holds two f16 (A reg 0 = (g, k 4t..4t+3), 1 = (g+8, ..), 2 = (g, 4t+16..), 3 = (g+8, 4t+16..);
// B reg 0 = B[k = 4t..4t+3][n = g], reg 1 = k + 16), so a fragment's bytes lie where the f16 fragment's do
__device__ __forceinline__ void tessel_mma_s8(int* c, const unsigned* a, unsigned b0, unsigned b1) { asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1)); }
// the tensor-core step for an accumulator type: f32 sums of f16 products, s32 sums of s8 products
__device__ __forceinline__ void tessel_mma_acc(float* c, const unsigned* a, unsigned b0, unsigned b1) { tessel_mma_f16(c, a, b0, b1); }
__device__ __forceinline__ void tessel_mma_acc(int* c, const unsigned* a, unsigned b0, unsigned b1) { tessel_mma_s8(c, a, b0, b1); }
__device__ __forceinline__ unsigned tessel_pack_f16x2(float lo, float hi) {
    return (unsigned) tessel_f2h(lo) | ((unsigned) tessel_f2h(hi) << 16);
}
// a shared-memory pointer as the 32-bit shared-window address cp.async and ldmatrix take
__device__ __forceinline__ unsigned tessel_smem_addr(const void* p) { unsigned a; asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p)); return a; }
// 16 bytes global -> shared, asynchronously; bytes = 0 fills the 16 bytes with zeros (src is not read)
__device__ __forceinline__ void tessel_cp_async16(unsigned dst, const void* src, int bytes) { asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(dst), "l"(src), "r"(bytes) : "memory"); }
__device__ __forceinline__ void tessel_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void tessel_cp_async_wait_all_but_one() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }
__device__ __forceinline__ void tessel_cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
// four 8x8 b16 matrices from shared memory: lanes 8m..8m+7 give matrix m's row addresses (16 bytes a row, 16-byte
// aligned); lane 4 g + t receives in r[m] matrix m's row g, elements 2t and 2t + 1 (its bytes 4t..4t+3)
__device__ __forceinline__ void tessel_ldmatrix_x4(unsigned* r, unsigned addr) { asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr)); }
// four 8x8 b16 matrices from shared memory, transposed: lanes 8m..8m+7 give matrix m's row addresses
__device__ __forceinline__ void tessel_ldmatrix_x4_trans(unsigned* r, unsigned addr) { asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr)); }

// S = Q K^T for a warp's 16 query rows (Q's A fragments qa) against the 8 * ST keys of a shared tile, row-major, LD
// halves apart: B fragment (k = d, n = key): reg 0 = K[n = g][d = 2t..2t+1], reg 1 = K[g][2t+8..]; g = lane / 4, tg = lane % 4
template <int QK, int ST, int LD>
__device__ __forceinline__ void tessel_mma_scores(float (&sc)[ST][4], const unsigned (&qa)[QK][4], const unsigned short* kst, int g, int tg) {
#pragma unroll
    for (int n = 0; n < ST; n++) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
    for (int s = 0; s < QK; s++) {
#pragma unroll
        for (int n = 0; n < ST; n++) {
            const unsigned short* kp = kst + (n * 8 + g) * LD + s * 16 + 2 * tg;
            tessel_mma_f16(sc[n], qa[s], *reinterpret_cast<const unsigned*>(kp), *reinterpret_cast<const unsigned*>(kp + 8));
        }
    }
}

// One tile's online softmax and O += P V. sc holds the tile's scores, scaled and masked (-inf where masked), and mx0,
// mx1 this thread's maxima of its row g and row g + 8 (C fragment: [0], [1] = row g, keys 2t, 2t+1; [2], [3] = row g+8):
// the quad's maxima, the running max m and sum l (per thread; the quad's sums are added at the end) and the
// accumulators rescaled; then P, rounded to f16, is the A fragment of O += P V, V's B fragments by ldmatrix.trans of the
// row-major shared tile (LD halves apart).
template <int ST, int OT, int LD>
__device__ __forceinline__ void tessel_mma_softmax_pv(float (&sc)[ST][4], float (&acc)[OT][4], float mx0, float mx1, float& m0, float& m1,
                                                      float& l0, float& l1, const unsigned short* vst, int lane) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(TESSEL_FULL_MASK, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(TESSEL_FULL_MASK, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(TESSEL_FULL_MASK, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(TESSEL_FULL_MASK, mx1, 2));
    float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
    float u0 = n0 == TESSEL_NEG_INF ? 0.0f : n0, u1 = n1 == TESSEL_NEG_INF ? 0.0f : n1;
    float c0 = __expf(m0 - u0), c1 = __expf(m1 - u1);
    m0 = n0;
    m1 = n1;
    float p0 = 0.0f, p1 = 0.0f;
#pragma unroll
    for (int n = 0; n < ST; n++) {
#pragma unroll
        for (int c = 0; c < 2; c++) {
            sc[n][c] = __expf(sc[n][c] - u0);
            sc[n][c + 2] = __expf(sc[n][c + 2] - u1);
            p0 += sc[n][c];
            p1 += sc[n][c + 2];
        }
    }
    l0 = l0 * c0 + p0; // per-thread partial sums; the quad's are added at the end
    l1 = l1 * c1 + p1;
#pragma unroll
    for (int n = 0; n < OT; n++) {
        acc[n][0] *= c0; acc[n][1] *= c0;
        acc[n][2] *= c1; acc[n][3] *= c1;
    }
    // O += P V: P's A fragment for keys 16s..16s+15 is the C fragments of score tiles 2s and 2s+1;
    // V's B fragment (k = key, n = d): reg 0 = V[key = 2t, 2t+1][d = g], reg 1 = keys 2t+8, 2t+9; ldmatrix.trans of
    // the row-major tile gives it, two d tiles a load: lanes 0-15 address keys 16s..16s+15 at d tile n, lanes 16-31 at n+1
#pragma unroll
    for (int s = 0; s < ST / 2; s++) {
        unsigned pa[4];
        pa[0] = tessel_pack_f16x2(sc[2 * s][0], sc[2 * s][1]);
        pa[1] = tessel_pack_f16x2(sc[2 * s][2], sc[2 * s][3]);
        pa[2] = tessel_pack_f16x2(sc[2 * s + 1][0], sc[2 * s + 1][1]);
        pa[3] = tessel_pack_f16x2(sc[2 * s + 1][2], sc[2 * s + 1][3]);
        unsigned vrow = tessel_smem_addr(vst + (s * 16 + (lane & 15)) * LD + 8 * (lane >> 4));
#pragma unroll
        for (int n = 0; n < OT; n += 2) {
            unsigned vb4[4];
            tessel_ldmatrix_x4_trans(vb4, vrow + n * 16);
            tessel_mma_f16(acc[n], pa, vb4[0], vb4[1]);
            tessel_mma_f16(acc[n + 1], pa, vb4[2], vb4[3]);
        }
    }
}

// Q's A fragments (m16n8k16, row-major) of a warp's rows r0 = g and r1 = g + 8 of a tile, rows ldq halves apart from qb:
// reg 0 = (g, 2t..2t+1), 1 = (g+8, 2t..), 2 = (g, 2t+8..), 3 = (g+8, 2t+8..); a row not in (in0, in1 false) is zeros
template <int QK>
__device__ __forceinline__ void tessel_mma_load_q(unsigned (&qa)[QK][4], const unsigned short* qb, long long ldq, int r0, int r1, bool in0, bool in1, int tg) {
#pragma unroll
    for (int s = 0; s < QK; s++) {
        int c = s * 16 + 2 * tg;
        qa[s][0] = in0 ? *reinterpret_cast<const unsigned*>(qb + (long long) r0 * ldq + c) : 0u;
        qa[s][1] = in1 ? *reinterpret_cast<const unsigned*>(qb + (long long) r1 * ldq + c) : 0u;
        qa[s][2] = in0 ? *reinterpret_cast<const unsigned*>(qb + (long long) r0 * ldq + c + 8) : 0u;
        qa[s][3] = in1 ? *reinterpret_cast<const unsigned*>(qb + (long long) r1 * ldq + c + 8) : 0u;
    }
}

// the softmax denominators of rows g and g + 8: each thread's partial sums added over its quad
__device__ __forceinline__ void tessel_mma_row_sums(float& l0, float& l1) {
    l0 += __shfl_xor_sync(TESSEL_FULL_MASK, l0, 1);
    l0 += __shfl_xor_sync(TESSEL_FULL_MASK, l0, 2);
    l1 += __shfl_xor_sync(TESSEL_FULL_MASK, l1, 1);
    l1 += __shfl_xor_sync(TESSEL_FULL_MASK, l1, 2);
}
// A warp's (16 MI) x (8 NJ) part of C += A B^T over KS steps of 32 bytes of K (16 f16 or 32 int8 values; MI x NJ
// mma.sync tiles a step): as and bs point at the warp's first row of A and of B (C's first column), both row-major in
// shared memory LDB bytes apart (a multiple of 16; LDB / 16 odd keeps ldmatrix's eight rows a phase on distinct banks).
// A fragments reg 0 = (g, bytes 4t..4t+3 of the step), 1 = (g+8, ..), 2 = (g, 4t+16..), 3 = (g+8, 4t+16..): ldmatrix.x4
// of the 16 x 32-byte block, lanes 0-15 giving rows 0-15 at byte 0 and lanes 16-31 at byte 16. B fragment reg 0 =
// B[n = g][bytes 4t..], reg 1 = bytes + 16 (tessel_mma_s8's comment: f16 and s8 fragments lie alike): one ldmatrix.x4
// gives two 8-column tiles' fragments, lanes 0-7 rows 0-7 at byte 0, 8-15 at byte 16, 16-31 rows 8-15 likewise.
// acc[i][j]: C's fragment of rows 16 i.., columns 8 j.. ([0], [1] = row g, columns 2t, 2t+1; [2], [3] = row g + 8)
template <int MI, int NJ, int KS, int LDB, typename ACC>
__device__ __forceinline__ void tessel_mma_warp_tile(ACC (&acc)[MI][NJ][4], const unsigned char* as, const unsigned char* bs, int lane) {
    static_assert(NJ % 2 == 0 && LDB % 16 == 0, "B tiles in pairs, 16-byte rows");
    const unsigned aRow = tessel_smem_addr(as + (lane & 15) * LDB + 16 * (lane >> 4));
    const unsigned bRow = tessel_smem_addr(bs + ((lane & 7) + 8 * (lane >> 4)) * LDB + 16 * ((lane >> 3) & 1));
#pragma unroll
    for (int q = 0; q < KS; q++) {
        unsigned a[MI][4];
#pragma unroll
        for (int i = 0; i < MI; i++) tessel_ldmatrix_x4(a[i], aRow + i * 16 * LDB + q * 32);
#pragma unroll
        for (int j = 0; j < NJ; j += 2) {
            unsigned b[4];
            tessel_ldmatrix_x4(b, bRow + j * 8 * LDB + q * 32);
#pragma unroll
            for (int i = 0; i < MI; i++) {
                tessel_mma_acc(acc[i][j], a[i], b[0], b[1]);
                tessel_mma_acc(acc[i][j + 1], a[i], b[2], b[3]);
            }
        }
    }
}
// A warp's 32 x 32 part of C += A B^T, f16: K = 16 * KS halves, rows LD halves apart, the warp's rows wm * 32.. of A and
// of B (C's columns wn * 32..)
template <int KS, int LD>
__device__ __forceinline__ void tessel_mma_warp_32x32(float (&acc)[2][4][4], const unsigned short* as, const unsigned short* bs, int wm, int wn, int lane) {
    tessel_mma_warp_tile<2, 4, KS, 2 * LD>(acc, reinterpret_cast<const unsigned char*>(as + wm * 32 * LD), reinterpret_cast<const unsigned char*>(bs + wn * 32 * LD), lane);
}
#endif
