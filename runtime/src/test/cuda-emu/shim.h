// Host emulation of the CUDA features the paged-attention kernels use: one std::thread per CUDA
// thread, std::barrier for __syncthreads and for warp shuffles.
#include <barrier>
#include <thread>
#include <vector>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <algorithm>
#include <functional>
struct dim3 { int x = 0, y = 0, z = 0; };
struct uint4 { unsigned x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
thread_local dim3 threadIdx;
dim3 blockIdx, blockDim, gridDim;
std::barrier<>* g_block_bar;
std::barrier<>* g_warp_bar[32];
float g_shfl[32][32];
alignas(16) float g_dyn[1 << 16];
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __restrict__
#define __shared__ static
#define __align__(n)
inline void __syncthreads() { g_block_bar->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int o) {
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    g_shfl[w][l] = v;
    g_warp_bar[w]->arrive_and_wait();
    float r = g_shfl[w][l ^ o];
    g_warp_bar[w]->arrive_and_wait();
    return r;
}
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
using std::min;
using std::max;
// f16 <-> f32 via _Float16 (round to nearest even)
inline float tessel_h2f(unsigned short h) { _Float16 x; std::memcpy(&x, &h, 2); return (float) x; }
inline unsigned short tessel_f2h(float f) { _Float16 x = (_Float16) f; unsigned short h; std::memcpy(&h, &x, 2); return h; }
inline float tessel_bf2f(unsigned short b) { return __uint_as_float(((unsigned) b) << 16); }
inline unsigned short tessel_f2bf(float f) { unsigned u = __float_as_uint(f); u += 0x7fff + ((u >> 16) & 1); return (unsigned short) (u >> 16); }
#define TESSEL_INF __int_as_float(0x7f800000)
#define TESSEL_NEG_INF __int_as_float(0xff800000)
#define TESSEL_FULL_MASK 0xffffffffu
inline float tessel_warp_sum(float v) { for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(TESSEL_FULL_MASK, v, o); return v; }
inline float tessel_warp_max(float v) { for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(TESSEL_FULL_MASK, v, o)); return v; }
inline float tessel_block_sum(float v, float* red) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = tessel_warp_sum(v); __syncthreads(); if (lane == 0) red[wid] = v; __syncthreads();
    if (wid == 0) { float t = lane < nw ? red[lane] : 0.0f; t = tessel_warp_sum(t); if (lane == 0) red[0] = t; }
    __syncthreads(); return red[0];
}
inline float tessel_block_max(float v, float* red) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = tessel_warp_max(v); __syncthreads(); if (lane == 0) red[wid] = v; __syncthreads();
    if (wid == 0) { float t = lane < nw ? red[lane] : TESSEL_NEG_INF; t = tessel_warp_max(t); if (lane == 0) red[0] = t; }
    __syncthreads(); return red[0];
}
// runs fn over a grid, block by block, on one set of persistent threads (a kernel's early return
// is block-uniform in these kernels, so every thread reaches the barriers between blocks); the dynamic
// shared memory is poisoned with NaN before each block
inline void launch(dim3 grid, int threads, const std::function<void()>& fn) {
    gridDim = grid; blockDim = {threads, 1, 1};
    std::barrier<> bb(threads); g_block_bar = &bb;
    for (int w = 0; w < threads / 32; w++) g_warp_bar[w] = new std::barrier<>(32);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) ts.emplace_back([t, &fn, &bb, grid] {
        threadIdx = {t, 0, 0};
        for (int z = 0; z < grid.z; z++) for (int y = 0; y < grid.y; y++) for (int x = 0; x < grid.x; x++) {
            if (t == 0) { blockIdx = {x, y, z}; std::fill(g_dyn, g_dyn + (1 << 16), __uint_as_float(0x7fc00000)); }
            bb.arrive_and_wait();
            fn();
            bb.arrive_and_wait();
        }
    });
    for (auto& t : ts) t.join();
    for (int w = 0; w < threads / 32; w++) delete g_warp_bar[w];
}
