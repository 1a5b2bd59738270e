// Host stand-ins for the CUDA built-ins and the prelude functions that generated elementwise
// kernels (EltwiseCodegen) call (test only), so a kernel source without its prelude compiles with
// g++ and runs as one CUDA thread (gridDim = blockDim = 1): the grid-stride loops then visit every
// element. Conversions round to nearest even as the PTX cvt does; the helpers keep the prelude's
// NaN behaviour. Built with -ffp-contract=off, so no product is fused into a sum behind our back.
#include <math.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
struct D3 { unsigned x, y, z; };
static D3 threadIdx{0, 0, 0}, blockIdx{0, 0, 0}, blockDim{1, 1, 1}, gridDim{1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
struct float4 { float x, y, z, w; };
struct uint2 { unsigned int x, y; };
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline uint2 make_uint2(unsigned int x, unsigned int y) { return uint2{x, y}; }
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
#define TESSEL_INF __int_as_float(0x7f800000)
#define TESSEL_NEG_INF __int_as_float((int) 0xff800000u)
static inline float tessel_bf2f(unsigned short b) { return __uint_as_float((uint32_t) b << 16); }
static inline unsigned short tessel_f2bf(float f) {
    uint32_t u; std::memcpy(&u, &f, 4);
    if (std::isnan(f)) return (unsigned short) ((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}
static inline float tessel_h2f(unsigned short h) { _Float16 x; std::memcpy(&x, &h, 2); return (float) x; }
static inline unsigned short tessel_f2h(float f) { _Float16 x = (_Float16) f; unsigned short h; std::memcpy(&h, &x, 2); return h; }
static inline float tessel_round_f16(float f) { return tessel_h2f(tessel_f2h(f)); }
static inline float tessel_round_bf16(float f) { return tessel_bf2f(tessel_f2bf(f)); }
static inline float tessel_pickmax(float a, float b) { return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b); }
static inline float tessel_pickmin(float a, float b) { return (a != a || b != b) ? __int_as_float(0x7fc00000) : fminf(a, b); }
static inline float tessel_clip_lo(float x, float lo) { return x < lo ? lo : x; }
static inline float tessel_clip_hi(float x, float hi) { return x > hi ? hi : x; }
static inline float tessel_softplus(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static inline void tessel_ld4_f32(const float* p, long long i, float* v) { for (int k = 0; k < 4; k++) v[k] = p[i + k]; }
static inline void tessel_st4_f32(float* p, long long i, const float* v) { for (int k = 0; k < 4; k++) p[i + k] = v[k]; }
static inline void tessel_ld4_f16(const unsigned short* p, long long i, float* v) { for (int k = 0; k < 4; k++) v[k] = tessel_h2f(p[i + k]); }
static inline void tessel_st4_f16(unsigned short* p, long long i, const float* v) { for (int k = 0; k < 4; k++) p[i + k] = tessel_f2h(v[k]); }
static inline void tessel_ld4_bf16(const unsigned short* p, long long i, float* v) { for (int k = 0; k < 4; k++) v[k] = tessel_bf2f(p[i + k]); }
static inline void tessel_st4_bf16(unsigned short* p, long long i, const float* v) { for (int k = 0; k < 4; k++) p[i + k] = tessel_f2bf(v[k]); }
static inline void tessel_ld8_f16(const unsigned short* p, long long i, float* v) { for (int k = 0; k < 8; k++) v[k] = tessel_h2f(p[i + k]); }
static inline void tessel_st8_f16(unsigned short* p, long long i, const float* v) { for (int k = 0; k < 8; k++) p[i + k] = tessel_f2h(v[k]); }
static inline void tessel_ld8_bf16(const unsigned short* p, long long i, float* v) { for (int k = 0; k < 8; k++) v[k] = tessel_bf2f(p[i + k]); }
static inline void tessel_st8_bf16(unsigned short* p, long long i, const float* v) { for (int k = 0; k < 8; k++) p[i + k] = tessel_f2bf(v[k]); }
