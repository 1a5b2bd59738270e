// Index ops (IndexKernels): Range, Trilu, CumSum/CumProd, OneHot, TopK, ScatterElements, ScatterND. Needs T (an
// element as it lives on the device: float, f16/bf16 words, the device's i32 integers or bool bytes), A (its
// arithmetic type: double for floating data, long long for integers and bool), LD_A / ST_A (load as A, store from A,
// rounding once into T), I and LD_I (an index element loaded as long long: i32, or floating indices truncated).
// One thread per output element (per row for the scans); grid-stride loops; every scalar is a long long.

// TopK's order: a (at ia) before b (at ib) when larger (smaller unless largest), NaN above every number, ties by index.
__device__ __forceinline__ bool tessel_index_before(A a, long long ia, A b, long long ib, long long largest) {
    const bool na = a != a, nb = b != b;
    int c = (na || nb) ? (int) na - (int) nb : (a == b ? 0 : (a > b ? 1 : -1));
    if (!largest) c = -c;
    return c > 0 || (c == 0 && ia < ib);
}

// A scatter's reduction r of update u into a: 0 none, 1 add, 2 mul, 3 max, 4 min (max and min propagate NaN).
__device__ __forceinline__ A tessel_index_combine(A a, A u, long long r) {
    if (r == 1) return a + u;
    if (r == 2) return a * u;
    if (r == 3) return a != a ? a : u != u ? u : (a > u ? a : u);
    if (r == 4) return a != a ? a : u != u ? u : (a < u ? a : u);
    return u;
}

// tessel.range: y[i] = start + i * delta (start and delta one element each, on the device).
extern "C" __global__ void tessel_range(const T* __restrict__ start, const T* __restrict__ delta, T* __restrict__ y, long long n) {
    const A s = LD_A(start, 0), d = LD_A(delta, 0);
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) ST_A(y, i, s + (A) i * d);
}

// tessel.trilu: y = x where column - row >= k (upper) or <= k (lower) in the last two axes (rows x cols), else 0;
// k is kp[0] (i32 on the device, constant or computed) when has_k, else 0.
extern "C" __global__ void tessel_trilu(const T* __restrict__ x, const int* __restrict__ kp, T* __restrict__ y, long long total, long long rows,
                                        long long cols, long long has_k, long long upper) {
    const long long k = has_k ? (long long) kp[0] : 0;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const long long c = i % cols, r = (i / cols) % rows;
        const bool keep = upper ? c - r >= k : c - r <= k;
        y[i] = keep ? x[i] : (T) 0;
    }
}

// tessel.cumulative: a thread per row of [outer, len, inner] around the axis axisp[0] (i32 on the device, constant or
// computed; negative counts from the back) of x's dims (rank long longs): the running sum (product) along len, in A,
// optionally exclusive (the identity first) and/or reversed. The grid covers total threads, at least one per row.
extern "C" __global__ void tessel_cumulative(const T* __restrict__ x, const int* __restrict__ axisp, T* __restrict__ y, const long long* __restrict__ dims,
                                             long long rank, long long total, long long product, long long exclusive, long long reverse) {
    long long axis = axisp[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return;
    long long inner = 1;
    for (long long a = axis + 1; a < rank; a++) inner *= dims[a];
    const long long len = dims[axis], rows = len == 0 ? 0 : total / len;
    for (long long r = blockIdx.x * (long long) blockDim.x + threadIdx.x; r < rows; r += (long long) gridDim.x * blockDim.x) {
        const long long base = (r / inner) * len * inner + r % inner;
        A acc = product ? (A) 1 : (A) 0;
        for (long long s = 0; s < len; s++) {
            const long long i = base + (reverse ? len - 1 - s : s) * inner;
            const A v = LD_A(x, i);
            if (exclusive) ST_A(y, i, acc);
            acc = product ? acc * v : acc + v;
            if (!exclusive) ST_A(y, i, acc);
        }
    }
}

// tessel.onehot: y of [outer, depth, inner] holds values[1] where idx[o, in] (negative counts from depth) == d, else values[0].
extern "C" __global__ void tessel_onehot(const I* __restrict__ idx, const T* __restrict__ values, T* __restrict__ y, long long total,
                                         long long depth, long long inner) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const long long in = i % inner, d = (i / inner) % depth, o = i / (inner * depth);
        long long k = LD_I(idx, o * inner + in);
        if (k < 0) k += depth;
        y[i] = values[k == d ? 1 : 0];
    }
}

// tessel.topk: a thread per element of x ([outer, len, inner]) counts the elements of its row that come before it;
// when that rank is below k it writes itself (and its index, i32) at that place of the [outer, k, inner] outputs.
extern "C" __global__ void tessel_topk(const T* __restrict__ x, T* __restrict__ values, int* __restrict__ indices, long long total, long long len,
                                       long long inner, long long k, long long largest) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const long long in = i % inner, j = (i / inner) % len, o = i / (inner * len), base = o * len * inner + in;
        const A v = LD_A(x, i);
        long long rank = 0;
        for (long long m = 0; m < len && rank < k; m++)
            if (m != j && tessel_index_before(LD_A(x, base + m * inner), m, v, j, largest)) rank++;
        if (rank < k) {
            const long long at = (o * k + rank) * inner + in;
            values[at] = x[i];
            indices[at] = (int) j;
        }
    }
}

// tessel.scatter_elements: a thread per element of y (data's shape) starts from x and combines, in the reference's
// order, every update whose position (its own, the axis coordinate from idx) is this element. tab holds 3 long longs
// per axis a: data's extent, the indices' extent and the indices' stride.
extern "C" __global__ void tessel_scatter_elements(const T* __restrict__ x, const int* __restrict__ idx, const T* __restrict__ upd,
                                                   T* __restrict__ y, const long long* __restrict__ tab, long long rank, long long axis,
                                                   long long total, long long reduction) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long rem = i, base = 0, at = 0;
        bool reached = true;
        for (long long a = rank - 1; a >= 0; a--) {
            const long long c = rem % tab[3 * a];
            rem /= tab[3 * a];
            if (a == axis) at = c;
            else if (c < tab[3 * a + 1]) base += c * tab[3 * a + 2];
            else reached = false;
        }
        A acc = LD_A(x, i);
        if (reached) {
            const long long len = tab[3 * axis], n = tab[3 * axis + 1], stride = tab[3 * axis + 2];
            for (long long j = 0; j < n; j++) {
                long long k = idx[base + j * stride];
                if (k < 0) k += len;
                if (k == at) acc = tessel_index_combine(acc, LD_A(upd, base + j * stride), reduction);
            }
        }
        ST_A(y, i, acc);
    }
}

// tessel.scatter_nd: a thread per element of y (data's shape, seen as [lead, slice]) starts from x and combines, in
// order, updates[t, s] of every index tuple t (k i32 coordinates of data's first k axes, extents in dims) that points
// at its lead position.
extern "C" __global__ void tessel_scatter_nd(const T* __restrict__ x, const int* __restrict__ idx, const T* __restrict__ upd, T* __restrict__ y,
                                             const long long* __restrict__ dims, long long k, long long tuples, long long slice, long long total,
                                             long long reduction) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const long long lead = i / slice, s = i % slice;
        A acc = LD_A(x, i);
        for (long long t = 0; t < tuples; t++) {
            long long f = 0;
            for (long long j = 0; j < k; j++) {
                long long v = idx[t * k + j];
                if (v < 0) v += dims[j];
                f = f * dims[j] + v;
            }
            if (f == lead) acc = tessel_index_combine(acc, LD_A(upd, t * slice + s), reduction);
        }
        ST_A(y, i, acc);
    }
}
