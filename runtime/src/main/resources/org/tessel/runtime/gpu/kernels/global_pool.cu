// tessel.pool.global: y[n, c] = the mean of x[n, c] over its H x W plane (GlobalAveragePool, a ReduceMean over the
// spatial axes). Grid (ceil(C / GP_V), N), GP_THREADS threads: the block's threads stride the plane's positions, so a
// plane of any size is read by a whole block (tessel_pool2d's one thread per output had 32 threads sum an EfficientNet
// squeeze-excitation's 112 x 112 planes, each position by position). NCHW (GP_V 1): a block per plane, its
// threads reading consecutive elements. NHWC (GP_V 8): a block per 8 consecutive channels, a thread reading the 8 of a
// position (one 16-byte segment at f16). The position loop is unrolled by 4 so a thread has 4 positions' loads in
// flight (a block of 8 NHWC channels over a 112 x 112 plane takes 25 positions a thread). f32 sums, added across the block in a fixed tree order (the result does not
// depend on timing), divided by H x W and rounded once to T. Needs T, LD_T, ST_T, GP_V and LAYOUT_NHWC or LAYOUT_NCHW.
#ifndef GP_THREADS
#define GP_THREADS 512
#endif
extern "C" __global__ void __launch_bounds__(GP_THREADS)
tessel_global_pool(const T* __restrict__ x, T* __restrict__ y, int C, int HW) {
    __shared__ float part[GP_V][GP_THREADS];
    const int n = blockIdx.y, c0 = blockIdx.x * GP_V, tid = threadIdx.x;
    float acc[GP_V];
#pragma unroll
    for (int v = 0; v < GP_V; v++) acc[v] = 0.0f;
#ifdef LAYOUT_NHWC
    const int lanes = min(GP_V, C - c0);
    const T* base = x + (long long) n * HW * C + c0;
#pragma unroll 4
    for (int p = tid; p < HW; p += GP_THREADS) {
        const T* q = base + (long long) p * C;
#pragma unroll
        for (int v = 0; v < GP_V; v++)
            if (v < lanes) acc[v] += LD_T(q, v);
    }
#else
    const T* base = x + ((long long) n * C + c0) * HW;
#pragma unroll 4
    for (int p = tid; p < HW; p += GP_THREADS) acc[0] += LD_T(base, p);
#endif
#pragma unroll
    for (int v = 0; v < GP_V; v++) part[v][tid] = acc[v];
    __syncthreads();
    for (int s = GP_THREADS / 2; s > 0; s >>= 1) {
        if (tid < s)
#pragma unroll
            for (int v = 0; v < GP_V; v++) part[v][tid] += part[v][tid + s];
        __syncthreads();
    }
    if (tid < GP_V && c0 + tid < C) ST_T(y, (long long) n * C + c0 + tid, part[tid][0] / (float) HW);
}
