// Host stand-ins for the CUDA built-ins Tessel's INT8 elementwise kernels use (test only), so
// int8.cuh, quantize.cu and int8_epilogue.cu compile with g++ and run as one CUDA thread over the
// whole grid-stride loop. Built with -ffp-contract=off: f32 products and sums stay separate, as
// the kernels' __fmul_rn / __fadd_rn keep them on the GPU; rintf and the conversions round to
// nearest even as the PTX does.
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
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline int __float2int_rn(float f) { return (int) std::nearbyint(f); }
static inline float tessel_bf2f(unsigned short b) { uint32_t u = (uint32_t) b << 16; float f; std::memcpy(&f, &u, 4); return f; }
static inline unsigned short tessel_f2bf(float f) {
    uint32_t u; std::memcpy(&u, &f, 4);
    if (std::isnan(f)) return (unsigned short) ((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}
static inline float tessel_h2f(unsigned short h) { _Float16 x; std::memcpy(&x, &h, 2); return (float) x; }
static inline unsigned short tessel_f2h(float f) { _Float16 x = (_Float16) f; unsigned short h; std::memcpy(&h, &x, 2); return h; }
template <class T> static void readFile(const char* name, std::vector<T>& v) {
    FILE* f = std::fopen(name, "rb");
    if (!f || std::fread(v.data(), sizeof(T), v.size(), f) != v.size()) { std::fprintf(stderr, "cannot read %s\n", name); std::exit(2); }
    std::fclose(f);
}
template <class T> static void writeFile(const char* name, const std::vector<T>& v) {
    FILE* f = std::fopen(name, "wb");
    if (!f || std::fwrite(v.data(), sizeof(T), v.size(), f) != v.size()) { std::fprintf(stderr, "cannot write %s\n", name); std::exit(2); }
    std::fclose(f);
}
