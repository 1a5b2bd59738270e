// tessel.attention.bshd: O = softmax(scale * Q K^T + mask) V per (batch, head), reading the head
// split straight from the projections' [B][S][H*D] rows (no transposes): element (b, s, h, d) of Q
// is q[(b * Sq + s) * ldq + h * HEAD_DIM + d] (ldq = H * D for a plain projection), likewise K, V
// and O. Each warp owns one query row; a block of ATT_WARPS warps shares 32-key tiles of K and V
// in shared memory; online softmax (running max and sum), so no score matrix is written. The
// optional additive mask, broadcast over heads, is mask[b * mask_b + query * mask_q + key]: mask_q = 0
// for a key mask [B|1,1,1,Sk], Sk for a per-query mask [B|1,1,Sq,Sk]; mask_b = 0 broadcasts over the
// batch. A row whose every score is -inf gives NaN like Softmax (nan_rows = 1) or 0 under SDPA's
// Where(IsNaN(p), 0, p) guard (nan_rows = 0). f32 arithmetic. Needs T, LD_T, ST_T and HEAD_DIM (<= 128).
#define ATT_WARPS 8
#define KEY_TILE 32
#define DIM_SLOTS ((HEAD_DIM + 31) / 32)
extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32)
tessel_attention_bshd(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ mask,
                      T* __restrict__ o, int Sq, int Sk, int heads, long long ldq, long long ldk, long long ldv, long long ldo,
                      long long mask_b, long long mask_q, float scale, int nan_rows) {
    __shared__ float ks[KEY_TILE][HEAD_DIM + 1];
    __shared__ float vs[KEY_TILE][HEAD_DIM];
    __shared__ float qs[ATT_WARPS][HEAD_DIM];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
    int row = blockIdx.x * ATT_WARPS + warp;
    bool active = row < Sq;
    const T* qrow = q + ((long long) b * Sq + (active ? row : 0)) * ldq + (long long) h * HEAD_DIM;
    for (int d = lane; d < HEAD_DIM; d += 32) qs[warp][d] = active ? LD_T(qrow, d) * scale : 0.0f;
    const T* kb = k + (long long) b * Sk * ldk + (long long) h * HEAD_DIM;
    const T* vb = v + (long long) b * Sk * ldv + (long long) h * HEAD_DIM;
    const T* mrow = mask != 0 ? mask + (long long) b * mask_b + (long long) (active ? row : 0) * mask_q : 0;
    float m = TESSEL_NEG_INF, l = 0.0f;
    float acc[DIM_SLOTS];
#pragma unroll
    for (int t = 0; t < DIM_SLOTS; t++) acc[t] = 0.0f;
    for (int j0 = 0; j0 < Sk; j0 += KEY_TILE) {
        __syncthreads();
        for (int e = threadIdx.x; e < KEY_TILE * HEAD_DIM; e += ATT_WARPS * 32) {
            int j = e / HEAD_DIM, d = e - j * HEAD_DIM;
            bool in = j0 + j < Sk;
            ks[j][d] = in ? LD_T(kb, (long long) (j0 + j) * ldk + d) : 0.0f;
            vs[j][d] = in ? LD_T(vb, (long long) (j0 + j) * ldv + d) : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        int key = j0 + lane;
        float s = TESSEL_NEG_INF;
        if (key < Sk) {
            float dot = 0.0f;
#pragma unroll 8
            for (int d = 0; d < HEAD_DIM; d++) dot = fmaf(qs[warp][d], ks[lane][d], dot);
            s = dot + (mrow != 0 ? LD_T(mrow, key) : 0.0f);
        }
        float mt = tessel_warp_max(s);
        float mnew = fmaxf(m, mt);
        float p = 0.0f, corr = 1.0f;
        if (mnew != TESSEL_NEG_INF) {
            p = key < Sk ? expf(s - mnew) : 0.0f;
            corr = expf(m - mnew);
        }
        l = l * corr + tessel_warp_sum(p);
#pragma unroll
        for (int t = 0; t < DIM_SLOTS; t++) acc[t] *= corr;
        for (int jj = 0; jj < KEY_TILE; jj++) {
            float pj = __shfl_sync(TESSEL_FULL_MASK, p, jj);
#pragma unroll
            for (int t = 0; t < DIM_SLOTS; t++) {
                int d = lane + 32 * t;
                if (d < HEAD_DIM) acc[t] = fmaf(pj, vs[jj][d], acc[t]);
            }
        }
        m = mnew;
    }
    if (active) {
        T* orow = o + ((long long) b * Sq + row) * ldo + (long long) h * HEAD_DIM;
        float inv = l > 0.0f ? 1.0f / l : nan_rows ? __int_as_float(0x7fc00000) : 0.0f; // every score -inf
#pragma unroll
        for (int t = 0; t < DIM_SLOTS; t++) {
            int d = lane + 32 * t;
            if (d < HEAD_DIM) ST_T(orow, d, acc[t] * inv);
        }
    }
}
