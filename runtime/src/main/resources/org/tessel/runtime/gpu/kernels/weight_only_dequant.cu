// tessel.gemm.weight_only/dequant, its first kernel: the weight dequantized once a run into a scratch matrix
// out[n, k] = (code[n, k] - zero[n, g]) * scale[n, g] in the activation type T (g = k / group), which the layer's
// cuBLASLt GEMM then multiplies as a transposed f16/bf16/f32 weight. Codes as weight_only_gemm.cu takes them. Each
// thread dequantizes 8 consecutive codes of one row (K and the group size multiples of 8: one group, one scale) and
// stores them as one 16-byte (or 32-byte at f32) write. The scratch is the stream's workspace, which the kernel before
// may still read: the programmatic wait comes before the first write (the constants are read before it).
#ifndef WO_BITS
#define WO_BITS 4
#endif

extern "C" __global__ void __launch_bounds__(256)
tessel_wo_dequant(const unsigned char* __restrict__ w, const S* __restrict__ scales, const unsigned char* __restrict__ zeros,
                  T* __restrict__ out, int n, int k, int group) {
    const long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x, per = k / 8;
    const bool in = e < (long long) n * per;
    float v[8];
    if (in) {
        const long long row = e / per, k0 = (e % per) * 8, gi = row * (k / group) + k0 / group;
        const float s = LD_S(scales, gi);
#if WO_BITS == 4
        const unsigned c = *reinterpret_cast<const unsigned*>(w + row * (k / 2) + k0 / 2);
        const int z = zeros ? (int) zeros[gi] : 8;
        for (int i = 0; i < 8; i++) v[i] = (float) ((int) ((c >> (4 * i)) & 15u) - z) * s;
#else
        const uint2 c = *reinterpret_cast<const uint2*>(w + row * k + k0);
        const int z = zeros ? (int) zeros[gi] : 0;
        for (int i = 0; i < 8; i++) {
            const unsigned b = ((i < 4 ? c.x : c.y) >> (8 * (i & 3))) & 0xFFu;
            v[i] = (float) ((zeros ? (int) b : (int) (signed char) b) - z) * s;
        }
#endif
    }
    tessel_pdl();  // the workspace's last reader (the kernel before) is done before it is written
    if (!in) return;
    __align__(16) T t[8];
    for (int i = 0; i < 8; i++) ST_T(t, i, v[i]);
    const uint4* src = reinterpret_cast<const uint4*>(t);
    uint4* dst = reinterpret_cast<uint4*>(out + e * 8);
    for (int i = 0; i < (int) (8 * sizeof(T) / 16); i++) dst[i] = src[i];
}
