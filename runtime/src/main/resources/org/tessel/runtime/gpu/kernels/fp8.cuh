// FP8 E4M3 (OCP e4m3fn, CUDA's __nv_fp8_e4m3) conversions written out in integer arithmetic, so the GPU and the host
// emulation round exactly as org.tessel.api.Float8E4M3 does (what __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)
// computes, without NVRTC having to find cuda_fp8.h): round to nearest even, saturating to +-448, NaN to S.1111.111.
__device__ __forceinline__ unsigned char tessel_f2e4m3(float x) {
    unsigned int u = __float_as_uint(x);
    unsigned int sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (unsigned char) (sign | 0x7Fu);            // NaN
    if (a >= 0x43E00000u) return (unsigned char) (sign | 0x7Eu);           // |x| >= 448 (infinity too): 448, the largest finite value
    if (a < 0x3C800000u) {                                                  // |x| < 2^-6: a multiple of 2^-9, 0..8 (8 is the smallest normal, code 0x08)
        return (unsigned char) (sign | (unsigned int) __float2int_rn(__uint_as_float(a) * 512.0f));
    }
    // normal: f32 exponent and top 3 mantissa bits give the code (bias 127 -> 7), the other 20 bits round to nearest even;
    // a carry out of the mantissa steps the exponent, and below 448 it never reaches the NaN code
    unsigned int code = (a >> 20) - (120u << 3), rest = a & 0xFFFFFu;
    if (rest > 0x80000u || (rest == 0x80000u && (code & 1u))) code += 1;
    return (unsigned char) (sign | code);
}

__device__ __forceinline__ float tessel_e4m32f(unsigned char c) {
    unsigned int e = (c >> 3) & 15u, m = c & 7u, sign = (unsigned int) (c & 0x80u) << 24;
    if (e == 15u && m == 7u) return __uint_as_float(sign | 0x7FC00000u);
    if (e == 0u) return __uint_as_float(sign | __float_as_uint((float) m * 0.001953125f)); // m * 2^-9, exact
    return __uint_as_float(sign | ((e + 120u) << 23) | (m << 20));
}
