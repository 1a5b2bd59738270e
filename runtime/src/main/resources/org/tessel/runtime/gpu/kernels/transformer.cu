// Data-movement and activation kernels of the transformer engines (BERT, ViT). Needs T, LD_T, ST_T.
// Grid-stride loops over the output; long long indices.

// tessel.gather: out[o][j][c] = data[o][idx[j]][c] for o < outer, j < nidx, c < inner; indices are
// 32-bit, negative ones count from the end of the axis; an index outside [-axis, axis) gives NaN.
extern "C" __global__ void tessel_gather(const T* __restrict__ data, const int* __restrict__ idx, T* __restrict__ out,
                                         long long outer, int axis, long long nidx, long long inner) {
    long long n = outer * nidx * inner;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        long long c = i % inner, r = i / inner;
        long long j = r % nidx, o = r / nidx;
        long long ix = idx[j];
        if (ix < 0) ix += axis;
        float v = (ix >= 0 && ix < axis) ? LD_T(data, (o * axis + ix) * inner + c) : __int_as_float(0x7fc00000);
        ST_T(out, i, v);
    }
}

// tessel.gelu.erf in place: y = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU the graph's Gelu means
// (cuBLASLt's GELU epilogue is the tanh approximation). Runs after a bias epilogue. erff, not erfcf: half
// the instructions (the pass is compute-bound at 16-bit storage otherwise); for x below -5 both round to 0.
__device__ __forceinline__ float tessel_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
extern "C" __global__ void tessel_gelu_erf(T* __restrict__ y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x)
        ST_T(y, i, tessel_gelu(LD_T(y, i)));
}
// The same over 4 elements a thread (one 8- or 16-byte access), 32-bit indices: y aligned to 4 elements,
// n a multiple of 4 and below 2^31.
extern "C" __global__ void tessel_gelu_erf_vec4(T* __restrict__ y, int n) {
    int nv = n >> 2;
    for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < nv; v += gridDim.x * blockDim.x) {
        float a[4];
        LD4_T(y, 4 * v, a);
#pragma unroll
        for (int e = 0; e < 4; e++) a[e] = tessel_gelu(a[e]);
        ST4_T(y, 4 * v, a);
    }
}

// tessel.tanh in place (BERT's pooler activation after a bias epilogue).
extern "C" __global__ void tessel_tanh(T* __restrict__ y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x)
        ST_T(y, i, tanhf(LD_T(y, i)));
}
