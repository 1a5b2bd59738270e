// tessel.rope: y = x * cos + rotate_half(x) * sin over the last axis of x (D = 2 * half), rotate_half(x) = concat(-x2, x1):
// for i < half, y_i = x_i cos_i - x_{i+half} sin_i and y_{i+half} = x_{i+half} cos_{i+half} + x_i sin_{i+half}.
// One thread per pair (i, i + half) of one row (one head of one token), f32 math, one rounding to T per output.
// cos and sin (one shape) broadcast onto x: row r of x, its leading index (a, b, c, e) over dims d0..d3 (x's leading
// dims, padded in front with 1), reads the cos/sin row at a*s0 + b*s1 + c*s2 + e*s3 (elements; 0 on broadcast axes).
// Needs T, LD_T, ST_T.
extern "C" __global__ void tessel_rope(const T* __restrict__ x, const T* __restrict__ cs, const T* __restrict__ sn, T* __restrict__ y,
                                       int pairs, int half, int d0, int d1, int d2, int d3, int s0, int s1, int s2, int s3) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= pairs) return;
    const int row = t / half, i = t - row * half;
    int r = row;
    int c = (r % d3) * s3;
    r /= d3;
    c += (r % d2) * s2;
    r /= d2;
    c += (r % d1) * s1;
    r /= d1;
    c += (r % d0) * s0;
    c += i;
    const long long lo = (long long) row * (2 * half) + i, hi = lo + half;
    const float a = LD_T(x, lo), b = LD_T(x, hi);
    ST_T(y, lo, a * LD_T(cs, c) - b * LD_T(sn, c));
    ST_T(y, hi, b * LD_T(cs, c + half) + a * LD_T(sn, c + half));
}
