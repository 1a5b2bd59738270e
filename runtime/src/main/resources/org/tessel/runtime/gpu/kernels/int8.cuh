// Tessel INT8 helpers (after the prelude): symmetric int8 codes as PrecisionEmulation.quantize defines
// them. v / scale is an IEEE f32 division (__fdiv_rn, whatever the compile flags), rounded to nearest
// even (rintf), clamped to [-127, 127]; NaN gives code 0. Products and sums in the epilogue use
// __fmul_rn / __fadd_rn so no FMA contraction changes the rounding the Java reference sees.
__device__ __forceinline__ signed char tessel_q8(float v, float scale) {
    float q = rintf(__fdiv_rn(v, scale));
    if (q != q) return (signed char) 0;
    q = fminf(fmaxf(q, -127.0f), 127.0f);
    return (signed char) __float2int_rn(q);
}
