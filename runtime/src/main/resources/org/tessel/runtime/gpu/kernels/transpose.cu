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

// The same move where one side is narrow (rows <= 8 or cols <= 8: an RGB image's NCHW -> NHWC, rows = 3, and back):
// a 32x32 tile would hold 3 useful rows of 32 and its block write 12-byte pieces, so instead one thread moves all
// the narrow side's values of one index of the long side (grid-stride over batch x long side). Reads are coalesced
// per narrow index and each warp's writes cover one contiguous span (or the other way round).
extern "C" __global__ void tessel_transpose_narrow(const T* __restrict__ in, T* __restrict__ out, long long batch, int rows, int cols) {
    long long plane = (long long) rows * cols;
    long long stride = (long long) gridDim.x * blockDim.x;
    if (rows <= cols) {
        long long total = batch * cols;
        for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
            long long b = i / cols;
            long long j = i - b * cols;
            const T* s = in + b * plane + j;
            T* d = out + b * plane + j * rows;
            for (int r = 0; r < rows; r++) d[r] = s[(long long) r * cols];
        }
    } else {
        long long total = batch * rows;
        for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
            long long b = i / rows;
            long long r = i - b * rows;
            const T* s = in + b * plane + r * cols;
            T* d = out + b * plane + r;
            for (int c = 0; c < cols; c++) d[(long long) c * rows] = s[c];
        }
    }
}
