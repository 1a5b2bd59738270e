// TensorRT's EfficientNMS_TRT (NmsKernels, tactic tessel.nms.efficient), with the semantics of the reference
// (org.tessel.ir.ops.EfficientNmsOp). Needs T, LD_T and ST_T: the element type of boxes, scores and the floating
// outputs. One block of TESSEL_NMS_THREADS threads per image:
//  1. count the candidates (class != background, score > threshold; the threshold arrives as its float's bits);
//  2. gather the first min(count, 4096) of them in candidate order as (key, index) items: all of them when they fit,
//     else a four-pass radix select finds the 4096th key, the keys above it are taken and the ties with it in index
//     order (a block-wide scan per chunk of the image's scores) until 4096;
//  3. a bitonic sort of the items in shared memory, descending: larger key first, then lower flat index n * C + c;
//  4. the greedy walk: a block-wide minimum finds the first live candidate, which is kept; every thread tests its own
//     candidates (TESSEL_NMS_PER_THREAD of the sorted list, strided) against it and drops those of its class (any class
//     when agnostic) with IoU above the threshold; until M are kept or none is live;
//  5. num_detections, and zeros in the slots past it.
// The IoU is computed with __fsub_rn / __fmul_rn / __fadd_rn / __fdiv_rn so no multiply-add is fused: the reference's
// floats exactly.

#define TESSEL_NMS_THREADS 1024
#define TESSEL_NMS_MAX 4096
#define TESSEL_NMS_PER_THREAD (TESSEL_NMS_MAX / TESSEL_NMS_THREADS)

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
    __shared__ int s_count, s_above, s_need, s_class, s_best[2];
    __shared__ unsigned s_prefix;
    __shared__ float s_box[4], s_area;

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
        s_best[0] = s_best[1] = 0x7fffffff;
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
            for (int f = tid, cls = first_class; f < total; f += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
                if (cls == bg) continue;
                const float s = LD_T(sc, f);
                if (!(s > thr)) continue;
                const unsigned key = tessel_nms_key(s);
                if ((key & mask) == prefix) atomicAdd(&s_hist[(key >> shift) & 255u], 1u);
            }
            __syncthreads();
            if (tid == 0) {
                int above = 0, b = 255;
                for (; b > 0 && above + (int) s_hist[b] < need; b--) above += (int) s_hist[b];
                s_prefix = prefix | ((unsigned) b << shift);
                s_need = need - above;
            }
            __syncthreads();
            prefix = s_prefix;
            need = s_need;
            mask |= 255u << shift;
            __syncthreads();
        }
        // prefix is the k-th largest key: the keys above it all, then `need` of the ties with it, lowest indices first
        int taken = 0;
        for (int start = 0, cls = first_class; start < total; start += blockDim.x, cls = tessel_nms_next_class(cls, step, classes)) {
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

    // 4. the greedy walk over this thread's candidates tid, tid + blockDim.x, ...
    float box[TESSEL_NMS_PER_THREAD][4], area[TESSEL_NMS_PER_THREAD];
    int cls[TESSEL_NMS_PER_THREAD];
    bool live[TESSEL_NMS_PER_THREAD];
    for (int r = 0; r < TESSEL_NMS_PER_THREAD; r++) {
        const int j = tid + r * blockDim.x;
        live[r] = j < k;
        cls[r] = 0;
        area[r] = 0.0f;
        if (!live[r]) continue;
        const long long f = tessel_nms_index(s_items[j]);
        float corners[4];
        tessel_nms_corners(boxes, per_class_boxes ? (image * total + f) * 4 : (image * n + f / c) * 4, center_size, corners);
        area[r] = tessel_nms_normalize(corners, box[r]);
        cls[r] = (int) (f % c);
    }
    const long long out = image * m;
    int kept = 0;
    while (kept < m) {
        // the first live candidate: a warp minimum, then the warps' into s_best[kept & 1]; the other buffer, read by every
        // thread before this barrier, is reset for the next kept candidate
        int best = 0x7fffffff;
        for (int r = 0; r < TESSEL_NMS_PER_THREAD; r++)
            if (live[r]) {
                best = tid + r * (int) blockDim.x;
                break;
            }
        for (int o = 16; o > 0; o >>= 1) best = min(best, __shfl_xor_sync(TESSEL_FULL_MASK, best, o));
        if (lane == 0 && best != 0x7fffffff) atomicMin(&s_best[kept & 1], best);
        __syncthreads();
        best = s_best[kept & 1];
        if (tid == 0) s_best[(kept + 1) & 1] = 0x7fffffff;
        if (best == 0x7fffffff) break;
        if (tid == best % (int) blockDim.x) {
            const int r = best / (int) blockDim.x;
            live[r] = false;
            for (int q = 0; q < 4; q++) s_box[q] = box[r][q];
            s_area = area[r];
            s_class = cls[r];
        }
        __syncthreads();
        const float kept_box[4] = {s_box[0], s_box[1], s_box[2], s_box[3]};
        const float kept_area = s_area;
        const int kept_class = s_class;
        for (int r = 0; r < TESSEL_NMS_PER_THREAD; r++)
            if (live[r] && (agnostic || cls[r] == kept_class) && tessel_nms_iou(kept_box, kept_area, box[r], area[r]) > iou_thr) live[r] = false;
        if (tid == 0) {
            const long long f = tessel_nms_index(s_items[best]);
            float corners[4];
            tessel_nms_corners(boxes, per_class_boxes ? (image * total + f) * 4 : (image * n + f / c) * 4, center_size, corners);
            for (int q = 0; q < 4; q++) ST_T(out_boxes, (out + kept) * 4 + q, corners[q]);
            const float raw = LD_T(sc, f);
            ST_T(out_scores, out + kept, activation ? (float) (1.0 / (1.0 + exp(-(double) raw))) : raw);
            out_classes[out + kept] = kept_class;
        }
        kept++;
    }

    // 5. the count, zeros past it
    if (tid == 0) num[image] = kept;
    for (long long slot = kept + tid; slot < m; slot += blockDim.x) {
        for (int q = 0; q < 4; q++) ST_T(out_boxes, (out + slot) * 4 + q, 0.0f);
        ST_T(out_scores, out + slot, 0.0f);
        out_classes[out + slot] = 0;
    }
}
