// TensorRT's EfficientNMS_TRT (NmsKernels, tactic tessel.nms.efficient), with the semantics of the reference
// (org.tessel.ir.ops.EfficientNmsOp). Needs T, LD_T and ST_T: the element type of boxes, scores and the floating
// outputs. One block of TESSEL_NMS_THREADS threads per image:
//  1. count the candidates (class != background, score > threshold; the threshold arrives as its float's bits);
//  2. gather the first min(count, 4096) of them in candidate order as (key, index) items: all of them when they fit,
//     else a four-pass radix select finds the 4096th key, the keys above it are taken and the ties with it in index
//     order (a block-wide scan per chunk of the image's scores) until 4096;
//  3. a bitonic sort of the items in shared memory, descending: larger key first, then lower flat index n * C + c;
//  4. the greedy walk, a tile of the next 32 live candidates at a time: warp 0 resolves the tile in order (a candidate is
//     kept unless a kept one before it overlaps it, IoU above the threshold, of its class or any class when agnostic) and
//     writes the kept ones; then every thread drops its own later candidates (TESSEL_NMS_PER_THREAD of the sorted list,
//     strided) that a kept one of the tile overlaps; until M are kept or none is live;
//  5. num_detections, and zeros in the slots past it.
// The IoU is computed with __fsub_rn / __fmul_rn / __fadd_rn / __fdiv_rn so no multiply-add is fused: the reference's
// floats exactly.

#define TESSEL_NMS_THREADS 1024
#define TESSEL_NMS_MAX 4096
#define TESSEL_NMS_PER_THREAD (TESSEL_NMS_MAX / TESSEL_NMS_THREADS)
#define TESSEL_NMS_WORDS (TESSEL_NMS_MAX / 32)

// An order-preserving unsigned key of a non-NaN float: a larger float (Float.compare's order, -0 below +0) has a larger key.
__device__ __forceinline__ unsigned tessel_nms_key(float f) {
    const unsigned u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// A sorted item: the key above, the flat index complemented below, so a larger item comes first in the walk.
__device__ __forceinline__ unsigned long long tessel_nms_item(unsigned key, int f) {
    return ((unsigned long long) key << 32) | (unsigned long long) (0xffffffffu - (unsigned) f);
}

__device__ __forceinline__ long long tessel_nms_index(unsigned long long item) { return (long long) (0xffffffffu - (unsigned) (item & 0xffffffffull)); }

// The corners of the box at boxes[at..at+3]: as given, or x -+ w/2, y -+ h/2 from a center-size box.
__device__ __forceinline__ void tessel_nms_corners(const T* __restrict__ boxes, long long at, long long center_size, float* b) {
    const float p = LD_T(boxes, at), q = LD_T(boxes, at + 1), r = LD_T(boxes, at + 2), s = LD_T(boxes, at + 3);
    if (center_size) {
        const float hw = __fmul_rn(0.5f, r), hh = __fmul_rn(0.5f, s);
        b[0] = __fsub_rn(p, hw);
        b[1] = __fsub_rn(q, hh);
        b[2] = __fadd_rn(p, hw);
        b[3] = __fadd_rn(q, hh);
    } else {
        b[0] = p;
        b[1] = q;
        b[2] = r;
        b[3] = s;
    }
}

// Corners normalized per axis (lo, lo, hi, hi: flipped corners work) and the box's area.
__device__ __forceinline__ float tessel_nms_normalize(const float* b, float* o) {
    o[0] = b[0] < b[2] ? b[0] : b[2];
    o[2] = b[0] < b[2] ? b[2] : b[0];
    o[1] = b[1] < b[3] ? b[1] : b[3];
    o[3] = b[1] < b[3] ? b[3] : b[1];
    return __fmul_rn(__fsub_rn(o[2], o[0]), __fsub_rn(o[3], o[1]));
}

// IoU of kept box a and candidate b (normalized, with their areas), as EfficientNmsOp.iou computes it.
__device__ __forceinline__ float tessel_nms_iou(const float* a, float area_a, const float* b, float area_b) {
    const float iw = __fsub_rn(a[2] < b[2] ? a[2] : b[2], a[0] > b[0] ? a[0] : b[0]);
    const float ih = __fsub_rn(a[3] < b[3] ? a[3] : b[3], a[1] > b[1] ? a[1] : b[1]);
    const float inter = iw > 0.0f && ih > 0.0f ? __fmul_rn(iw, ih) : 0.0f;
    const float uni = __fsub_rn(__fadd_rn(area_a, area_b), inter);
    return uni > 0.0f ? __fdiv_rn(inter, uni) : 0.0f;
}

// The class of flat index f + blockDim.x given f's class: a grid-stride loop over an image's scores keeps the class
// this way instead of dividing (step = blockDim.x % c).
__device__ __forceinline__ int tessel_nms_next_class(int cls, int step, int c) { return cls + step >= c ? cls + step - c : cls + step; }

// Block-wide exclusive prefix sum of v (every thread of the block calls it); *total gets the block's sum. red: 32 ints.
__device__ __forceinline__ int tessel_nms_scan(int v, int* red, int* total) {
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int x = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(TESSEL_FULL_MASK, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) red[wid] = x;
    __syncthreads();
    if (wid == 0) {
        int t = lane < nw ? red[lane] : 0;
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(TESSEL_FULL_MASK, t, o);
            if (lane >= o) t += y;
        }
        if (lane < nw) red[lane] = t;
    }
    __syncthreads();
    *total = red[nw - 1];
    const int before = (wid > 0 ? red[wid - 1] : 0) + x - v;
    __syncthreads();
    return before;
}

// tessel.nms.efficient: image blockIdx.x of boxes ([B, n, 4], or [B, n, c, 4] with per_class_boxes) and scores
// ([B, n, c]) into num ([B] i32), out_boxes ([B, m, 4]), out_scores ([B, m]) and out_classes ([B, m] i32).
// threshold_bits and iou_bits are floats' bits: the threshold on raw scores (strictly above) and the IoU threshold.
extern "C" __global__ void __launch_bounds__(TESSEL_NMS_THREADS) tessel_efficient_nms(
        const T* __restrict__ boxes, const T* __restrict__ scores, int* __restrict__ num, T* __restrict__ out_boxes, T* __restrict__ out_scores,
        int* __restrict__ out_classes, long long n, long long c, long long per_class_boxes, long long m, long long background,
        long long activation, long long agnostic, long long center_size, long long threshold_bits, long long iou_bits) {
    __shared__ unsigned long long s_items[TESSEL_NMS_MAX];
    __shared__ unsigned s_hist[256];
    __shared__ int s_red[32];
    __shared__ int s_count, s_above, s_need, s_ties;
    __shared__ unsigned s_prefix;
    // the walk: live candidates as bits, a tile's candidates and kept ones, the count kept, where the next tile starts
    __shared__ unsigned s_live[TESSEL_NMS_WORDS];
    __shared__ int s_tile[32], s_cand_class[32], s_kept_class[32];
    __shared__ float s_cand_box[32][4], s_cand_area[32], s_kept_box[32][4], s_kept_area[32];
    __shared__ int s_tile_count, s_tile_kept, s_kept, s_pos, s_done;

    // an image's flat indices n * c + class fit an int (EfficientNmsOp checks n * c against INT_MAX)
    const long long image = blockIdx.x;
    const int total = (int) (n * c), classes = (int) c, bg = (int) background, step = (int) (blockDim.x % classes);
    const T* __restrict__ sc = scores + image * total;
    const float thr = __int_as_float((int) threshold_bits), iou_thr = __int_as_float((int) iou_bits);
    const int tid = threadIdx.x, lane = tid & 31, first_class = tid % classes;

    // 1. the candidates
    if (tid == 0) {
        s_count = 0;
        s_above = 0;
    }
    __syncthreads();
    int mine = 0;
    for (int f = tid, cls = first_class; f < total; f += blockDim.x, cls = tessel_nms_next_class(cls, step, classes))
        if (cls != bg && LD_T(sc, f) > thr) mine++;
    if (mine) atomicAdd(&s_count, mine);
    __syncthreads();
    const int count = s_count, k = count < TESSEL_NMS_MAX ? count : TESSEL_NMS_MAX;

    // 2. the first k candidates as items
    if (count <= TESSEL_NMS_MAX) {
        for (int f = tid, cls = first_class; f < total; f += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
            if (cls == bg) continue;
            const float s = LD_T(sc, f);
            if (s > thr) s_items[atomicAdd(&s_above, 1)] = tessel_nms_item(tessel_nms_key(s), f);
        }
    } else {
        unsigned prefix = 0, mask = 0;
        int need = k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int i = tid; i < 256; i += blockDim.x) s_hist[i] = 0;
            __syncthreads();
            // every thread runs every round (the match below takes whole warps); lanes whose keys share a digit add once,
            // so scores clustered in one digit (a detector's many near-equal ones) cost a shared atomic a warp, not a lane
            for (int start = 0, cls = first_class; start < total; start += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
                const int f = start + tid;
                unsigned digit = 256u; // none
                if (f < total && cls != bg) {
                    const float s = LD_T(sc, f);
                    if (s > thr) {
                        const unsigned key = tessel_nms_key(s);
                        if ((key & mask) == prefix) digit = (key >> shift) & 255u;
                    }
                }
                const unsigned peers = __match_any_sync(TESSEL_FULL_MASK, digit);
                if (digit != 256u && lane == __ffs((int) peers) - 1) atomicAdd(&s_hist[digit], (unsigned) __popc(peers));
            }
            __syncthreads();
            if (tid == 0) {
                int above = 0, b = 255;
                for (; b > 0 && above + (int) s_hist[b] < need; b--) above += (int) s_hist[b];
                s_prefix = prefix | ((unsigned) b << shift);
                s_need = need - above;
                s_ties = (int) s_hist[b]; // after the last digit: the candidates whose key is the k-th largest
            }
            __syncthreads();
            prefix = s_prefix;
            need = s_need;
            mask |= 255u << shift;
            __syncthreads();
        }
        // prefix is the k-th largest key: the keys above it all, then `need` of the ties with it, lowest indices first.
        // Where every tie is taken (continuous scores rarely tie) the order in which they land does not matter (the sort
        // below orders them): one pass, no block-wide scan a round
        const bool all_ties = need == s_ties;
        if (all_ties) {
            for (int f = tid, cls = first_class; f < total; f += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
                if (cls == bg) continue;
                const float s = LD_T(sc, f);
                if (!(s > thr)) continue;
                const unsigned key = tessel_nms_key(s);
                if (key >= prefix) s_items[atomicAdd(&s_above, 1)] = tessel_nms_item(key, f);
            }
        }
        int taken = 0;
        for (int start = 0, cls = first_class; !all_ties && start < total; start += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
            const int f = start + tid;
            unsigned key = 0;
            bool cand = false;
            if (f < total && cls != bg) {
                const float s = LD_T(sc, f);
                cand = s > thr;
                if (cand) key = tessel_nms_key(s);
            }
            if (cand && key > prefix) s_items[atomicAdd(&s_above, 1)] = tessel_nms_item(key, f);
            const int tie = cand && key == prefix;
            int ties;
            const int rank = tessel_nms_scan(tie, s_red, &ties);
            if (tie && taken + rank < need) s_items[k - need + taken + rank] = tessel_nms_item(key, f);
            taken += ties;
        }
    }

    // 3. bitonic sort, descending, over the next power of two (padded with 0, below every item)
    int p2 = 1;
    while (p2 < k) p2 <<= 1;
    for (int i = k + tid; i < p2; i += blockDim.x) s_items[i] = 0ull;
    __syncthreads();
    for (int size = 2; size <= p2; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = tid; i < p2; i += blockDim.x) {
                const int j = i ^ stride;
                if (j <= i) continue;
                const unsigned long long a = s_items[i], b = s_items[j];
                if ((i & size) == 0 ? a < b : a > b) {
                    s_items[i] = b;
                    s_items[j] = a;
                }
            }
            __syncthreads();
        }

    // 4. the greedy walk, a tile of the next 32 live candidates (in order) at a time. Warp 0 resolves the tile: each
    //    candidate is kept unless a kept one before it in the tile suppresses it (its class, any class when agnostic,
    //    IoU above the threshold), until M are kept, and writes the kept ones out; then every thread drops its own later
    //    candidates (TESSEL_NMS_PER_THREAD of the sorted list, strided) that a kept one of the tile suppresses. Two block
    //    barriers a tile instead of two a kept box. Live candidates are bits of s_live.
    float box[TESSEL_NMS_PER_THREAD][4], area[TESSEL_NMS_PER_THREAD];
    int cls[TESSEL_NMS_PER_THREAD];
    for (int r = 0; r < TESSEL_NMS_PER_THREAD; r++) {
        const int j = tid + r * blockDim.x;
        cls[r] = 0;
        area[r] = 0.0f;
        if (j >= k) continue;
        const long long f = tessel_nms_index(s_items[j]);
        float corners[4];
        tessel_nms_corners(boxes, per_class_boxes ? (image * total + f) * 4 : (image * n + f / c) * 4, center_size, corners);
        area[r] = tessel_nms_normalize(corners, box[r]);
        cls[r] = (int) (f % c);
    }
    for (int w = tid; w < TESSEL_NMS_WORDS; w += blockDim.x) {
        const int lo = w * 32;
        s_live[w] = lo + 32 <= k ? 0xffffffffu : lo >= k ? 0u : (1u << (k - lo)) - 1u;
    }
    if (tid == 0) {
        s_kept = 0;
        s_pos = 0;
    }
    __syncthreads();
    const long long out = image * m;
    const int most = (int) m;
    while (true) {
        if (tid < 32) {
            if (lane == 0) {
                // the tile: the first 32 live candidates from s_pos on
                int t = 0, w = s_pos >> 5;
                unsigned bits = w < TESSEL_NMS_WORDS ? s_live[w] & (0xffffffffu << (s_pos & 31)) : 0u;
                while (true) {
                    for (; bits != 0u && t < 32; bits &= bits - 1u) s_tile[t++] = w * 32 + __ffs((int) bits) - 1;
                    if (t == 32 || ++w >= TESSEL_NMS_WORDS) break;
                    bits = s_live[w];
                }
                s_tile_count = t;
            }
            __syncwarp();
            const int t = s_tile_count;
            float corners[4], nb[4], na = 0.0f;
            int ncls = 0;
            long long f = 0;
            if (lane < t) {
                f = tessel_nms_index(s_items[s_tile[lane]]);
                tessel_nms_corners(boxes, per_class_boxes ? (image * total + f) * 4 : (image * n + f / c) * 4, center_size, corners);
                na = tessel_nms_normalize(corners, nb);
                ncls = (int) (f % c);
                for (int q = 0; q < 4; q++) s_cand_box[lane][q] = nb[q];
                s_cand_area[lane] = na;
                s_cand_class[lane] = ncls;
            }
            __syncwarp();
            // the tile's earlier candidates that would suppress this one, were they kept
            unsigned by = 0u;
            if (lane < t)
                for (int j = 0; j < lane; j++)
                    if ((agnostic || s_cand_class[j] == ncls) && tessel_nms_iou(s_cand_box[j], s_cand_area[j], nb, na) > iou_thr) by |= 1u << j;
            // in order: kept when no kept one before it suppresses it, until M are kept
            unsigned kept_mask = 0u;
            int room = most - s_kept, last = t - 1;
            for (int j = 0; j < t; j++) {
                const unsigned bj = __shfl_sync(TESSEL_FULL_MASK, by, j);
                if ((bj & kept_mask) == 0u) {
                    kept_mask |= 1u << j;
                    if (--room == 0) {
                        last = j;
                        break;
                    }
                }
            }
            if (lane < t && ((kept_mask >> lane) & 1u)) {
                const int rank = __popc(kept_mask & ((1u << lane) - 1u)), slot = s_kept + rank;
                for (int q = 0; q < 4; q++) ST_T(out_boxes, (out + slot) * 4 + q, corners[q]);
                const float raw = LD_T(sc, f);
                ST_T(out_scores, out + slot, activation ? (float) (1.0 / (1.0 + exp(-(double) raw))) : raw);
                out_classes[out + slot] = ncls;
                for (int q = 0; q < 4; q++) s_kept_box[rank][q] = nb[q];
                s_kept_area[rank] = na;
                s_kept_class[rank] = ncls;
            }
            __syncwarp();
            if (lane == 0) {
                s_tile_kept = __popc(kept_mask);
                s_kept += s_tile_kept;
                // done when the tile took every live candidate left (fewer than 32) or M are kept
                s_done = t < 32 || s_kept >= most;
                s_pos = t > 0 ? s_tile[last] + 1 : 0;
            }
        }
        __syncthreads();
        if (s_done) break;
        const int pos = s_pos, tile_kept = s_tile_kept;
        for (int r = 0; r < TESSEL_NMS_PER_THREAD; r++) {
            const int j = tid + r * blockDim.x;
            if (j < pos || j >= k || !((s_live[j >> 5] >> (j & 31)) & 1u)) continue;
            for (int q = 0; q < tile_kept; q++)
                if ((agnostic || s_kept_class[q] == cls[r]) && tessel_nms_iou(s_kept_box[q], s_kept_area[q], box[r], area[r]) > iou_thr) {
                    atomicAnd(&s_live[j >> 5], ~(1u << (j & 31)));
                    break;
                }
        }
        __syncthreads();
    }
    const int kept = s_kept;

    // 5. the count, zeros past it
    if (tid == 0) num[image] = kept;
    for (long long slot = kept + tid; slot < m; slot += blockDim.x) {
        for (int q = 0; q < 4; q++) ST_T(out_boxes, (out + slot) * 4 + q, 0.0f);
        ST_T(out_scores, out + slot, 0.0f);
        out_classes[out + slot] = 0;
    }
}
