// Tessel kernel prelude: self-contained (NVRTC sees no system headers). f16 and bf16 are stored
// as 16-bit words and converted with PTX cvt (round to nearest even); arithmetic is in f32.
#define TESSEL_INF __int_as_float(0x7f800000)
#define TESSEL_NEG_INF __int_as_float(0xff800000)
#define TESSEL_FULL_MASK 0xffffffffu

__device__ __forceinline__ float tessel_h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short tessel_f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
__device__ __forceinline__ float tessel_bf2f(unsigned short b) { return __uint_as_float(((unsigned int) b) << 16); }
__device__ __forceinline__ unsigned short tessel_f2bf(float f) { unsigned short h; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
// round an f32 to the nearest f16 / bf16 value, staying in f32 (matches the reference's per-op rounding)
__device__ __forceinline__ float tessel_round_f16(float f) { return tessel_h2f(tessel_f2h(f)); }
__device__ __forceinline__ float tessel_round_bf16(float f) { return tessel_bf2f(tessel_f2bf(f)); }

// Programmatic dependent launch (sm_90): wait until the kernel before this one in the stream has completed and its
// writes are visible, then let the kernel after this one launch (its blocks start and wait in turn). A no-op when the
// launch was not programmatic. A kernel calls it first thing, before touching memory; the runtime launches kernels
// whose PTX has the wait with programmatic stream serialization (CudaLaunch), and no others.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
__device__ __forceinline__ void tessel_pdl() { asm volatile("griddepcontrol.wait;\n\tgriddepcontrol.launch_dependents;" ::: "memory"); }
#else
__device__ __forceinline__ void tessel_pdl() {}
#endif

__device__ __forceinline__ float tessel_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(TESSEL_FULL_MASK, v, o);
    return v;
}
__device__ __forceinline__ float tessel_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(TESSEL_FULL_MASK, v, o));
    return v;
}
// Block-wide reductions for blockDim.x a multiple of 32 (at most 1024); red holds 32 floats.
// Every thread gets the result. Safe to call repeatedly with the same red buffer.
__device__ __forceinline__ float tessel_block_sum(float v, float* red) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = tessel_warp_sum(v);
    __syncthreads();
    if (lane == 0) red[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float t = lane < nw ? red[lane] : 0.0f;
        t = tessel_warp_sum(t);
        if (lane == 0) red[0] = t;
    }
    __syncthreads();
    return red[0];
}
__device__ __forceinline__ float tessel_block_max(float v, float* red) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = tessel_warp_max(v);
    __syncthreads();
    if (lane == 0) red[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float t = lane < nw ? red[lane] : TESSEL_NEG_INF;
        t = tessel_warp_max(t);
        if (lane == 0) red[0] = t;
    }
    __syncthreads();
    return red[0];
}
// Elementwise helpers with the reference's NaN behaviour (a NaN operand gives NaN).
__device__ __forceinline__ float tessel_pickmax(float a, float b) { return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b); }
__device__ __forceinline__ float tessel_pickmin(float a, float b) { return (a != a || b != b) ? __int_as_float(0x7fc00000) : fminf(a, b); }
__device__ __forceinline__ float tessel_clip_lo(float x, float lo) { return x < lo ? lo : x; }
__device__ __forceinline__ float tessel_clip_hi(float x, float hi) { return x > hi ? hi : x; }
__device__ __forceinline__ float tessel_softplus(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
// Four consecutive elements as one 16-byte (f32) or 8-byte (f16, bf16) access, eight f16 or bf16 as one
// 16-byte access; i is a multiple of 4 (8) and the buffer is aligned, which the caller checks before
// choosing the vector kernel. The conversions are the scalar ones, so results match element by element.
__device__ __forceinline__ void tessel_ld4_f32(const float* p, long long i, float* v) { float4 t = *reinterpret_cast<const float4*>(p + i); v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w; }
__device__ __forceinline__ void tessel_st4_f32(float* p, long long i, const float* v) { *reinterpret_cast<float4*>(p + i) = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void tessel_ld4_f16(const unsigned short* p, long long i, float* v) {
    uint2 t = *reinterpret_cast<const uint2*>(p + i);
    v[0] = tessel_h2f((unsigned short) (t.x & 0xffffu)); v[1] = tessel_h2f((unsigned short) (t.x >> 16));
    v[2] = tessel_h2f((unsigned short) (t.y & 0xffffu)); v[3] = tessel_h2f((unsigned short) (t.y >> 16));
}
__device__ __forceinline__ void tessel_st4_f16(unsigned short* p, long long i, const float* v) {
    *reinterpret_cast<uint2*>(p + i) = make_uint2((unsigned int) tessel_f2h(v[0]) | ((unsigned int) tessel_f2h(v[1]) << 16),
                                                  (unsigned int) tessel_f2h(v[2]) | ((unsigned int) tessel_f2h(v[3]) << 16));
}
__device__ __forceinline__ void tessel_ld4_bf16(const unsigned short* p, long long i, float* v) {
    uint2 t = *reinterpret_cast<const uint2*>(p + i);
    v[0] = __uint_as_float(t.x << 16); v[1] = __uint_as_float(t.x & 0xffff0000u);
    v[2] = __uint_as_float(t.y << 16); v[3] = __uint_as_float(t.y & 0xffff0000u);
}
__device__ __forceinline__ void tessel_st4_bf16(unsigned short* p, long long i, const float* v) {
    *reinterpret_cast<uint2*>(p + i) = make_uint2((unsigned int) tessel_f2bf(v[0]) | ((unsigned int) tessel_f2bf(v[1]) << 16),
                                                  (unsigned int) tessel_f2bf(v[2]) | ((unsigned int) tessel_f2bf(v[3]) << 16));
}
__device__ __forceinline__ void tessel_ld8_f16(const unsigned short* p, long long i, float* v) {
    uint4 t = *reinterpret_cast<const uint4*>(p + i);
    v[0] = tessel_h2f((unsigned short) (t.x & 0xffffu)); v[1] = tessel_h2f((unsigned short) (t.x >> 16));
    v[2] = tessel_h2f((unsigned short) (t.y & 0xffffu)); v[3] = tessel_h2f((unsigned short) (t.y >> 16));
    v[4] = tessel_h2f((unsigned short) (t.z & 0xffffu)); v[5] = tessel_h2f((unsigned short) (t.z >> 16));
    v[6] = tessel_h2f((unsigned short) (t.w & 0xffffu)); v[7] = tessel_h2f((unsigned short) (t.w >> 16));
}
__device__ __forceinline__ void tessel_st8_f16(unsigned short* p, long long i, const float* v) {
    *reinterpret_cast<uint4*>(p + i) = make_uint4((unsigned int) tessel_f2h(v[0]) | ((unsigned int) tessel_f2h(v[1]) << 16),
                                                  (unsigned int) tessel_f2h(v[2]) | ((unsigned int) tessel_f2h(v[3]) << 16),
                                                  (unsigned int) tessel_f2h(v[4]) | ((unsigned int) tessel_f2h(v[5]) << 16),
                                                  (unsigned int) tessel_f2h(v[6]) | ((unsigned int) tessel_f2h(v[7]) << 16));
}
__device__ __forceinline__ void tessel_ld8_bf16(const unsigned short* p, long long i, float* v) {
    uint4 t = *reinterpret_cast<const uint4*>(p + i);
    v[0] = __uint_as_float(t.x << 16); v[1] = __uint_as_float(t.x & 0xffff0000u);
    v[2] = __uint_as_float(t.y << 16); v[3] = __uint_as_float(t.y & 0xffff0000u);
    v[4] = __uint_as_float(t.z << 16); v[5] = __uint_as_float(t.z & 0xffff0000u);
    v[6] = __uint_as_float(t.w << 16); v[7] = __uint_as_float(t.w & 0xffff0000u);
}
__device__ __forceinline__ void tessel_st8_bf16(unsigned short* p, long long i, const float* v) {
    *reinterpret_cast<uint4*>(p + i) = make_uint4((unsigned int) tessel_f2bf(v[0]) | ((unsigned int) tessel_f2bf(v[1]) << 16),
                                                  (unsigned int) tessel_f2bf(v[2]) | ((unsigned int) tessel_f2bf(v[3]) << 16),
                                                  (unsigned int) tessel_f2bf(v[4]) | ((unsigned int) tessel_f2bf(v[5]) << 16),
                                                  (unsigned int) tessel_f2bf(v[6]) | ((unsigned int) tessel_f2bf(v[7]) << 16));
}
