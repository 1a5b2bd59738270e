// Runs a tessel-cuda-1 kernel on the host for tests: CUDA's qualifiers compile away, the thread and block indices are
// globals the driver sets, uint4 is a plain struct of four words.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define __global__
#define __device__
#define __forceinline__ inline
struct TesselDim3 { unsigned int x, y, z; };
static TesselDim3 threadIdx, blockIdx, blockDim, gridDim;
struct uint4 { unsigned int x, y, z, w; };
