// tessel.reformat.nchw_nhwc (and back): a batch of row-major [rows][cols] matrices transposed to
// [cols][rows] through 32x32 shared-memory tiles (padded against bank conflicts), so reads and
// writes are both coalesced. NCHW -> NHWC is rows = C, cols = H*W; NHWC -> NCHW is rows = H*W,
// cols = C. Values are copied bit for bit. Needs T.
#define TILE 32
#define ROWS_PER_PASS 8
extern "C" __global__ void tessel_transpose(const T* __restrict__ in, T* __restrict__ out, int rows, int cols) {
    __shared__ T tile[TILE][TILE + 1];
    long long plane = (long long) rows * cols;
    const T* src = in + blockIdx.z * plane;
    T* dst = out + blockIdx.z * plane;
    int c0 = blockIdx.x * TILE, r0 = blockIdx.y * TILE;
    for (int dy = threadIdx.y; dy < TILE; dy += ROWS_PER_PASS) {
        int r = r0 + dy, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[dy][threadIdx.x] = src[(long long) r * cols + c];
    }
    __syncthreads();
    for (int dy = threadIdx.y; dy < TILE; dy += ROWS_PER_PASS) {
        int c = c0 + dy, r = r0 + threadIdx.x;
        if (r < rows && c < cols) dst[(long long) c * rows + r] = tile[threadIdx.x][dy];
    }
}
