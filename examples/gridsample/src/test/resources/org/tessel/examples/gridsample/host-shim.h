// Runs a tessel-cuda-1 kernel on the host for tests: CUDA's qualifiers compile away, the thread and block indices
// are globals the driver sets, and the prelude's f16/bf16 conversions are done in software (round to nearest even),
// so one C++ compile of the kernel source checks its arithmetic against the plugin's reference without a GPU.
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#define __global__
#define __device__
#define __forceinline__ inline
struct TesselDim3 { unsigned int x, y, z; };
static TesselDim3 threadIdx, blockIdx, blockDim, gridDim;
static inline float tessel_h2f(unsigned short h) { _Float16 v; memcpy(&v, &h, 2); return (float) v; }
static inline unsigned short tessel_f2h(float f) { _Float16 v = (_Float16) f; unsigned short h; memcpy(&h, &v, 2); return h; }
static inline float tessel_bf2f(unsigned short b) { uint32_t u = ((uint32_t) b) << 16; float f; memcpy(&f, &u, 4); return f; }
static inline unsigned short tessel_f2bf(float f) {
    uint32_t u; memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short) (u >> 16);
}
