// Relu over 16-bit floats, 8 elements per 16-byte load and store: the GPU half of example.relu.half8.
// ABI tessel-cuda-1 (org.tessel.api.kernel.CudaKernel): after Tessel's prelude; input, output, args, n; a 1-D grid-stride
// loop over n / 8 vectors (the tactic takes only element counts that are multiples of 8). args: none. An elementwise op
// does not care how the tensor is laid out, so one entry point per element type serves every layout.
// Relu is max(x, 0) as the reference computes it: a negative number (-0 included) becomes +0, NaN stays NaN. On the
// 16-bit words that is a sign test and a NaN test (exponent all ones, mantissa not zero), so nothing is converted.

template <unsigned int INF_BITS>
__device__ __forceinline__ unsigned int relu_half(unsigned int h) {
    return (h & 0x8000u) && (h & 0x7fffu) <= INF_BITS ? 0u : h;
}

template <unsigned int INF_BITS>
__device__ __forceinline__ unsigned int relu_pair(unsigned int two) {
    return relu_half<INF_BITS>(two & 0xffffu) | (relu_half<INF_BITS>(two >> 16) << 16);
}

template <unsigned int INF_BITS>
__device__ void relu8(const unsigned short* x, unsigned short* y, long long n) {
    const uint4* in = reinterpret_cast<const uint4*>(x);
    uint4* out = reinterpret_cast<uint4*>(y);
    const long long vectors = n / 8;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < vectors; i += (long long) gridDim.x * blockDim.x) {
        uint4 v = in[i];
        v.x = relu_pair<INF_BITS>(v.x);
        v.y = relu_pair<INF_BITS>(v.y);
        v.z = relu_pair<INF_BITS>(v.z);
        v.w = relu_pair<INF_BITS>(v.w);
        out[i] = v;
    }
}

// f16: exponent 5 bits (infinity 0x7c00); bf16: exponent 8 bits (infinity 0x7f80)
extern "C" __global__ void relu_f16x8(const unsigned short* x, unsigned short* y, const long long* args, long long n) { relu8<0x7c00u>(x, y, n); }

extern "C" __global__ void relu_bf16x8(const unsigned short* x, unsigned short* y, const long long* args, long long n) { relu8<0x7f80u>(x, y, n); }
