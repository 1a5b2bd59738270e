// The K split of Tessel's decode GEMVs (gemv.cu, weight_only_gemv.cu): a block's 4 warps form 4 / KSPLIT row groups of
// KSPLIT warps, each warp holding its lanes' summed partial dot products sum[ROWS][M] (and, with RMS, the partial sums of
// x^2 ss[M]). The group's warps pass them through shared memory and its first warp adds them in part order (a fixed
// order: deterministic results); returns whether the calling warp goes on to the epilogue (the group's first; every warp
// at KSPLIT 1, where nothing is exchanged).
template <int ROWS, int M, int KSPLIT, bool RMS>
__device__ __forceinline__ bool tessel_gemv_gather(float (&sum)[ROWS][M], float (&ss)[M], int warp, int lane) {
    if constexpr (KSPLIT > 1) {
        __shared__ float partSum[4][ROWS][M];
        __shared__ float partSs[4][M];
        if (lane == 0)
#pragma unroll
            for (int m = 0; m < M; m++) {
                if constexpr (RMS) partSs[warp][m] = ss[m];
#pragma unroll
                for (int r = 0; r < ROWS; r++) partSum[warp][r][m] = sum[r][m];
            }
        __syncthreads();
        if (warp % KSPLIT != 0) return false;
#pragma unroll
        for (int m = 0; m < M; m++) {
            if constexpr (RMS) {
                ss[m] = partSs[warp][m];
                for (int p = 1; p < KSPLIT; p++) ss[m] += partSs[warp + p][m];
            }
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                sum[r][m] = partSum[warp][r][m];
                for (int p = 1; p < KSPLIT; p++) sum[r][m] += partSum[warp + p][r][m];
            }
        }
    }
    return true;
}
