// Data movement of any element type: E is the element's bits (1, 2, 4 or 8 bytes), so f32, f16, bf16
// and the device's i32 integers move alike, bit for bit. Grid-stride loops; every scalar is a long long.

// tessel.slice / tessel.pad / tessel.expand / tessel.tile: y[i] = x[src(i)], src from a per-axis table of rank r
// (outermost axis first), 5 long longs per axis a:
//   tab[5a] output extent, tab[5a+1] valid input extent len, tab[5a+2] start, tab[5a+3] step, tab[5a+4] input stride,
// then tab[5r] the base offset in elements. The input coordinate along a is c = start + o * step (Slice: its window;
// Expand: step 0 on broadcast axes; Pad: start = -(begin pad), base = the cropped elements; Tile: start 0, step 1 over
// the tiled extent). When c leaves [0, len): mode 0 cannot happen (Slice, Expand), 1 writes the fill bits (Pad
// constant), 2 reflects without repeating the edge, 3 repeats the edge, 4 wraps around (Pad reflect / edge / wrap; Tile).
extern "C" __global__ void tessel_window_copy(const E* __restrict__ x, E* __restrict__ y, const long long* __restrict__ tab,
                                              long long rank, long long total, long long mode, long long fill) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long rem = i, src = tab[5 * rank];
        bool outside = false;
        for (long long a = rank - 1; a >= 0; a--) {
            const long long* t = tab + 5 * a;
            long long o = rem % t[0], len = t[1];
            rem /= t[0];
            long long c = t[2] + o * t[3];
            if (c < 0 || c >= len) {
                if (mode == 1) { outside = true; break; }
                if (mode == 2) {
                    if (len == 1) c = 0;
                    else {
                        long long p = 2 * (len - 1);
                        c = ((c % p) + p) % p;
                        if (c >= len) c = p - c;
                    }
                } else if (mode == 3) {
                    c = c < 0 ? 0 : len - 1;
                } else {
                    c = ((c % len) + len) % len;
                }
            }
            src += c * t[4];
        }
        y[i] = outside ? (E) fill : x[src];
    }
}

// tessel.gather_elements: y[i] = x[the position of i with the axis coordinate replaced by idx[i]] (idx as i32,
// negative counts from the back, out of range gives zero bits). tab holds 2 long longs per axis a: the output
// (= indices) extent and the data stride.
extern "C" __global__ void tessel_gather_elements(const E* __restrict__ x, const int* __restrict__ idx, E* __restrict__ y,
                                                  const long long* __restrict__ tab, long long rank, long long axis, long long axisLen,
                                                  long long total) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long rem = i, src = 0;
        for (long long a = rank - 1; a >= 0; a--) {
            long long o = rem % tab[2 * a];
            rem /= tab[2 * a];
            if (a != axis) src += o * tab[2 * a + 1];
        }
        long long k = idx[i];
        if (k < 0) k += axisLen;
        y[i] = k < 0 || k >= axisLen ? (E) 0 : x[src + k * tab[2 * axis + 1]];
    }
}

// tessel.gather_nd: output element i is element e = i % slice of the slice that tuple t = i / slice picks: it starts at
// (t / perBatch) * batchStride (the batch entry) plus, for each of the tuple's k coordinates c_j = idx[t * k + j] (i32,
// negative counts from the back), c_j * tab[2j + 1] (the data stride of indexed axis j, whose extent is tab[2j]). A
// coordinate out of range gives zero bits.
extern "C" __global__ void tessel_gather_nd(const E* __restrict__ x, const int* __restrict__ idx, E* __restrict__ y,
                                            const long long* __restrict__ tab, long long k, long long slice, long long perBatch,
                                            long long batchStride, long long total) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long t = i / slice, src = (t / perBatch) * batchStride + (i - t * slice);
        bool inside = true;
        for (long long j = 0; j < k; j++) {
            long long c = idx[t * k + j], len = tab[2 * j];
            if (c < 0) c += len;
            if (c < 0 || c >= len) { inside = false; break; }
            src += c * tab[2 * j + 1];
        }
        y[i] = inside ? x[src] : (E) 0;
    }
}

// tessel.fill: every element of y gets the same bits (ConstantOfShape's value in the storage type).
extern "C" __global__ void tessel_fill(E* __restrict__ y, long long total, long long bits) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) y[i] = (E) bits;
}
