// tessel.pool.global: y[n, c] = the mean of x[n, c] over its H x W plane (GlobalAveragePool, a ReduceMean over the
// spatial axes). Grid (channel blocks, N, S), GP_THREADS threads; block (cb, n, s) sums positions
// [s * span, min((s + 1) * span, HW)) of its channels. With S = 1 it writes y; else its f32 sums go to
// part[(n * S + s) * C + c] and tessel_global_pool_finish adds the S slices of each (n, c) in slice order. Splitting the
// positions is what keeps a large plane of few channels (an EfficientNet squeeze-excitation's 32 channels of 112 x 112)
// from being summed by a handful of blocks.
//
// NCHW (GP_CV 0): a block per plane slice, its threads reading consecutive elements, 4 positions' loads in flight.
// NHWC (GP_CV > 0): a block per GP_CV vectors of 8 consecutive channels; thread tid reads vector tid % GP_CV of
// positions tid / GP_CV, tid / GP_CV + GP_THREADS / GP_CV, .. (the block's threads read whole stretches of positions'
// channel rows), one 16-byte load a vector when GP_VEC (16-bit T, C a multiple of 8), else element by element.
// Sums in f32: over a warp's lanes of the same channel by shuffles, then over the block's warps in shared memory in warp
// order, so the result does not depend on timing; divided by H x W and rounded once to T.
// Needs T, LD_T, ST_T, GP_CV, GP_VEC and GP_THREADS (a multiple of 32, at most 1024).
#ifndef GP_THREADS
#define GP_THREADS 256
#endif
#define GP_WARPS (GP_THREADS / 32)

extern "C" __global__ void __launch_bounds__(GP_THREADS)
tessel_global_pool(const T* __restrict__ x, T* __restrict__ y, float* __restrict__ part, int C, int HW, int span) {
    const int n = blockIdx.y, s = blockIdx.z, S = gridDim.z, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int p0 = s * span, p1 = min(p0 + span, HW);
#if GP_CV > 0
    // NHWC: channel vector v of this thread, 8 channels from c0
    __shared__ float red[GP_WARPS][GP_CV * 8];
    const int v = tid % GP_CV, row = tid / GP_CV, c0 = (blockIdx.x * GP_CV + v) * 8;
    const int lanes = max(0, min(8, C - c0));
    float acc[8];
#pragma unroll
    for (int j = 0; j < 8; j++) acc[j] = 0.0f;
    const T* base = x + (long long) n * HW * C + c0;
    if (lanes > 0) {
#pragma unroll 4
        for (int p = p0 + row; p < p1; p += GP_THREADS / GP_CV) {
            const T* q = base + (long long) p * C;
#if GP_VEC
            const uint4 u = *reinterpret_cast<const uint4*>(q);
            const unsigned short h[8] = {(unsigned short) (u.x & 0xFFFFu), (unsigned short) (u.x >> 16), (unsigned short) (u.y & 0xFFFFu), (unsigned short) (u.y >> 16),
                                         (unsigned short) (u.z & 0xFFFFu), (unsigned short) (u.z >> 16), (unsigned short) (u.w & 0xFFFFu), (unsigned short) (u.w >> 16)};
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j] += LD_T(h, j);
#else
#pragma unroll
            for (int j = 0; j < 8; j++)
                if (j < lanes) acc[j] += LD_T(q, j);
#endif
        }
    }
    // lanes lane, lane ^ GP_CV, .. of a warp hold the same channels (GP_CV divides 32)
#pragma unroll
    for (int o = GP_CV; o < 32; o <<= 1)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[j] += __shfl_xor_sync(TESSEL_FULL_MASK, acc[j], o);
    if (lane < GP_CV)
#pragma unroll
        for (int j = 0; j < 8; j++) red[warp][lane * 8 + j] = acc[j];
    __syncthreads();
    if (tid < GP_CV * 8) {
        const int c = blockIdx.x * GP_CV * 8 + tid;
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < GP_WARPS; w++) sum += red[w][tid];
        if (c < C) {
            if (S == 1) ST_T(y, (long long) n * C + c, sum / (float) HW);
            else part[((long long) n * S + s) * C + c] = sum;
        }
    }
#else
    // NCHW: plane (n, c), c = blockIdx.x
    __shared__ float red[GP_WARPS];
    const int c = blockIdx.x;
    const T* base = x + ((long long) n * C + c) * HW;
    float acc = 0.0f;
#pragma unroll 4
    for (int p = p0 + tid; p < p1; p += GP_THREADS) acc += LD_T(base, p);
    acc = tessel_warp_sum(acc);
    if (lane == 0) red[warp] = acc;
    __syncthreads();
    if (tid == 0) {
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < GP_WARPS; w++) sum += red[w];
        if (S == 1) ST_T(y, (long long) n * C + c, sum / (float) HW);
        else part[((long long) n * S + s) * C + c] = sum;
    }
#endif
}

// y[i] = sum over s of part[(n * S + s) * C + c] / HW, i = n * C + c, slices added in order: grid ceil(N * C / 256), 256 threads.
extern "C" __global__ void __launch_bounds__(256)
tessel_global_pool_finish(const float* __restrict__ part, T* __restrict__ y, int N, int C, int HW, int S) {
    const long long i = (long long) blockIdx.x * 256 + threadIdx.x;
    if (i >= (long long) N * C) return;
    const long long n = i / C, c = i - n * C;
    float sum = 0.0f;
    for (int s = 0; s < S; s++) sum += part[(n * S + s) * C + c];
    ST_T(y, i, sum / (float) HW);
}
