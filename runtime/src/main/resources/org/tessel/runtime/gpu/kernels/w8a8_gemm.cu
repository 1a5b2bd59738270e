// tessel.gemm.w8a8: SmoothQuant's tessel.W8A8MatMul, y[m, n] = (sum_k qa[m, k] * w[n, k]) * a_scale * w_scale[n], where
// qa = rint(x / a_scale) clamped to [-127, 127] (NaN to 0) is the activation's int8 code, w the i8 weight [N, K] and
// the sum exact in int32 (K at most the op's MAX_K). x and y in the activation type T, scales f32. A 16x16 thread block
// computes a 32x32 tile of y, each thread 2x2 outputs (rows ty + 16 i, columns tx + 16 j); K goes in slices of 64:
// the block quantizes its slice of A and loads the slice of W into shared memory as packed 4-code words, and each
// output takes four products an instruction with CUDA's __dp4a (sm_61+; the emulated device's shim has a C version). Any K (bounds-checked loads, zero codes past K).
#define W8_BM 32
#define W8_BN 32
#define W8_BK 64
#define W8_WORDS (W8_BK / 4)

__device__ __forceinline__ int tessel_w8a8_code(float v, float s) {
    const float r = rintf(v / s);
    return r != r ? 0 : (int) fminf(127.0f, fmaxf(-127.0f, r));
}

extern "C" __global__ void __launch_bounds__(256)
tessel_gemm_w8a8(const T* __restrict__ x, const signed char* __restrict__ w, const float* __restrict__ wScales, const float* __restrict__ aScale,
                 T* __restrict__ y, int m, int n, int k) {
    __shared__ int As[W8_BM][W8_WORDS + 1];
    __shared__ int Ws[W8_BN][W8_WORDS + 1];
    const int tid = threadIdx.y * 16 + threadIdx.x, tx = threadIdx.x, ty = threadIdx.y;
    const int rowBase = blockIdx.y * W8_BM, colBase = blockIdx.x * W8_BN;
    const float sa = aScale[0];
    int acc[2][2] = {{0, 0}, {0, 0}};
    for (int k0 = 0; k0 < k; k0 += W8_BK) {
        for (int e = tid; e < W8_BM * W8_WORDS; e += 256) {
            const int r = e / W8_WORDS, wd = e % W8_WORDS, gr = rowBase + r;
            unsigned packed = 0;
            for (int b = 0; b < 4; b++) {
                const int gk = k0 + wd * 4 + b;
                const int q = gr < m && gk < k ? tessel_w8a8_code(LD_T(x, (long long) gr * k + gk), sa) : 0;
                packed |= ((unsigned) q & 255u) << (8 * b);
            }
            As[r][wd] = (int) packed;
        }
        for (int e = tid; e < W8_BN * W8_WORDS; e += 256) {
            const int c = e / W8_WORDS, wd = e % W8_WORDS, gc = colBase + c;
            unsigned packed = 0;
            for (int b = 0; b < 4; b++) {
                const int gk = k0 + wd * 4 + b;
                const int q = gc < n && gk < k ? (int) w[(long long) gc * k + gk] : 0;
                packed |= ((unsigned) q & 255u) << (8 * b);
            }
            Ws[c][wd] = (int) packed;
        }
        __syncthreads();
        for (int wd = 0; wd < W8_WORDS; wd++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) acc[i][j] = __dp4a(As[ty + 16 * i][wd], Ws[tx + 16 * j][wd], acc[i][j]);
        __syncthreads();
    }
    for (int i = 0; i < 2; i++) {
        const int row = rowBase + ty + 16 * i;
        if (row >= m) continue;
        for (int j = 0; j < 2; j++) {
            const int col = colBase + tx + 16 * j;
            if (col < n) ST_T(y, (long long) row * n + col, ((float) acc[i][j] * sa) * wScales[col]);
        }
    }
}
