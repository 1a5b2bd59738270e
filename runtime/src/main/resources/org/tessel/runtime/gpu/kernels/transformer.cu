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

// tessel.gelu.erf in place: y = 0.5 x erfc(-x / sqrt 2), the exact GELU the graph's Gelu means
// (cuBLASLt's GELU epilogue is the tanh approximation). Runs after a bias epilogue.
extern "C" __global__ void tessel_gelu_erf(T* __restrict__ y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float x = LD_T(y, i);
        ST_T(y, i, 0.5f * x * erfcf(-x * 0.70710678118654752f));
    }
}

// tessel.tanh in place (BERT's pooler activation after a bias epilogue).
extern "C" __global__ void tessel_tanh(T* __restrict__ y, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x)
        ST_T(y, i, tanhf(LD_T(y, i)));
}
