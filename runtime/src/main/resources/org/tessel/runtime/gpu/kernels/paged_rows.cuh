// Which new tokens a block of a paged prefill kernel (paged_prefill.cu, paged_prefill_mma.cu) takes: tile `tile` of
// sequence b, its first new token i0, the sequence's n_row tokens (real of them real) from token `base` of q and out.
// Packed (query_starts non-null, rows sequences, n_new tokens in all): block x takes the x-th tile of the sequences in
// order (a tile never spans two), then of the padding from query_starts[rows] on (b = rows, real 0); false for a block
// past the last tile. Padded: block (x, _, z) takes tile x of row z; real is -1 (the caller counts the row's real tokens).
struct tessel_paged_rows {
    int b, i0, n_row, real;
    long long base;
};

__device__ __forceinline__ bool tessel_paged_block_rows(tessel_paged_rows& r, const int* query_starts, int rows, int n_new, int tile) {
    if (query_starts) {
        int t = blockIdx.x, s = 0;
        for (; s < rows; s++) {
            const int nt = (query_starts[s + 1] - query_starts[s] + tile - 1) / tile;
            if (t < nt) break;
            t -= nt;
        }
        r.base = query_starts[s];
        r.n_row = (s < rows ? query_starts[s + 1] : n_new) - (int) r.base;
        r.i0 = t * tile;
        r.b = s;
        r.real = s < rows ? r.n_row : 0;
        return r.i0 < r.n_row;
    }
    r.b = blockIdx.z;
    r.i0 = blockIdx.x * tile;
    r.n_row = n_new;
    r.base = (long long) r.b * n_new;
    r.real = -1;
    return true;
}
