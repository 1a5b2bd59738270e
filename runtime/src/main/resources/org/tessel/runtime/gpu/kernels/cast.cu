// tessel.cast: converts between f32, f16 and bf16 (round to nearest even). Needs S, LD_S, D, ST_D.
extern "C" __global__ void tessel_cast(const S* __restrict__ in, D* __restrict__ out, long long n) {
    long long stride = (long long) gridDim.x * blockDim.x;
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) ST_D(out, i, LD_S(in, i));
}
