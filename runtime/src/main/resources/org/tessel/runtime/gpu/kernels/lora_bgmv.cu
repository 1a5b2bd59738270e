// tessel.lora.bgmv: tessel.LoraDelta on the GPU, Punica's BGMV shrink and expand in one launch.
// delta[rt, j] = scales[s] * sum_q (sum_k x[rt, k] * a[s, q, k]) * bt[s, q, j], s = ids[rt / tokens] - 1,
// for rt over batch rows x tokens; rows whose id is 0 (no adapter) get zeros. f32, ids i32 (the GPU
// engine keeps integer activations as i32).
// a is lora_a [S, R, K] as the op takes it; bt is lora_b [S, N, R] transposed to [S, R, N] once, on the
// host, so the expand's reads of one q are consecutive over j (coalesced). One block per (row, token),
// 128 threads: shrink, a warp per rank index q (lanes stride K, shuffle sum) into shared u[R];
// expand, a thread per output column j walking q in order. R <= LORA_MAX_RANK (host checks).
// An id outside [0, S] gives zeros here; the op's reference refuses it.
#define LORA_MAX_RANK 64

extern "C" __global__ void __launch_bounds__(128)
tessel_lora_bgmv(const float* __restrict__ x, const float* __restrict__ a, const float* __restrict__ bt, const float* __restrict__ scales,
                 const int* __restrict__ ids, float* __restrict__ y, int tokens, int k, int n, int r, int slots) {
    __shared__ float u[LORA_MAX_RANK];
    const int rt = blockIdx.x;
    const int id = ids[rt / tokens];
    float* yr = y + (long long) rt * n;
    if (id <= 0 || id > slots) {
        for (int j = threadIdx.x; j < n; j += blockDim.x) yr[j] = 0.f;
        return;
    }
    const int s = id - 1, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const float* xr = x + (long long) rt * k;
    for (int q = warp; q < r; q += warps) {
        const float* ar = a + ((long long) s * r + q) * k;
        float acc = 0.f;
        for (int c = lane; c < k; c += 32) acc += xr[c] * ar[c];
        acc = tessel_warp_sum(acc);
        if (lane == 0) u[q] = acc;
    }
    __syncthreads();
    const float scale = scales[s];
    const float* bs = bt + (long long) s * r * n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float acc = 0.f;
        for (int q = 0; q < r; q++) acc += u[q] * bs[(long long) q * n + j];
        yr[j] = scale * acc;
    }
}
