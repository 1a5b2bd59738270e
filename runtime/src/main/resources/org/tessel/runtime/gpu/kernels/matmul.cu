// tessel.matmul: C[z] = A[z] x B[z] for the batch z of an ONNX MatMul, row-major [M,K] x [K,N] -> [M,N], f32 math.
// The output's batch dims (up to four, padded with 1 in front) are d0..d3; each operand has a stride per batch dim in
// elements, 0 where it broadcasts. One 16x16 thread block per 16x16 tile of C and batch entry (blockIdx.z); K in steps
// of 16 through shared memory. A CUDA-core kernel for products no cuBLASLt call takes (activation x activation, batch
// broadcasting, unfused MatMul): correct everywhere, fast nowhere in particular.
#define TESSEL_MM_TILE 16

extern "C" __global__ void tessel_matmul(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C,
                                         int M, int N, int K, int d1, int d2, int d3,
                                         long long sa0, long long sa1, long long sa2, long long sa3,
                                         long long sb0, long long sb1, long long sb2, long long sb3) {
    __shared__ float As[TESSEL_MM_TILE][TESSEL_MM_TILE + 1];
    __shared__ float Bs[TESSEL_MM_TILE][TESSEL_MM_TILE + 1];
    int z = blockIdx.z;
    int i3 = z % d3, r = z / d3;
    int i2 = r % d2; r /= d2;
    int i1 = r % d1, i0 = r / d1;
    const T* a = A + i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3;
    const T* b = B + i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3;
    T* c = C + (long long) z * M * N;
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TESSEL_MM_TILE + ty, col = blockIdx.x * TESSEL_MM_TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TESSEL_MM_TILE) {
        int ka = k0 + tx, kb = k0 + ty;
        As[ty][tx] = row < M && ka < K ? LD_T(a, (long long) row * K + ka) : 0.0f;
        Bs[ty][tx] = kb < K && col < N ? LD_T(b, (long long) kb * N + col) : 0.0f;
        __syncthreads();
        for (int kk = 0; kk < TESSEL_MM_TILE; kk++) acc += As[ty][kk] * Bs[kk][tx];
        __syncthreads();
    }
    if (row < M && col < N) ST_T(c, (long long) row * N + col, acc);
}
