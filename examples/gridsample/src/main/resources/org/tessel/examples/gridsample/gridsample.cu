// GridSample, 4-D, NCHW: the GPU half of the example plugin's tactic example.gridsample.cuda.
//
// ABI tessel-cuda-1 (org.tessel.api.kernel.CudaKernel): compiled with NVRTC after Tessel's prelude, which defines
// tessel_h2f / tessel_f2h and tessel_bf2f / tessel_f2bf (f16 and bf16 are stored as 16-bit words). Each entry point
// takes the node's inputs (X, grid), its output (Y), the tactic's kernel arguments in device memory and the number
// of output elements, and is launched 1-D with a grid-stride loop over the outputs.
//
// args: N, C, H_in, W_in, H_out, W_out, align_corners (0/1), mode (0 bilinear, 1 nearest, 2 bicubic),
//       padding (0 zeros, 1 border, 2 reflection)
//
// The arithmetic is f32 throughout, in the order of the plugin's reference implementation (GridSampleOp.sample),
// so the f32 kernel reproduces it up to fused multiply-adds.

struct gs_f32 {
    typedef float word;
    static __device__ __forceinline__ float load(const float* p, long long i) { return p[i]; }
    static __device__ __forceinline__ void store(float* p, long long i, float v) { p[i] = v; }
};
struct gs_f16 {
    typedef unsigned short word;
    static __device__ __forceinline__ float load(const unsigned short* p, long long i) { return tessel_h2f(p[i]); }
    static __device__ __forceinline__ void store(unsigned short* p, long long i, float v) { p[i] = tessel_f2h(v); }
};
struct gs_bf16 {
    typedef unsigned short word;
    static __device__ __forceinline__ float load(const unsigned short* p, long long i) { return tessel_bf2f(p[i]); }
    static __device__ __forceinline__ void store(unsigned short* p, long long i, float v) { p[i] = tessel_f2bf(v); }
};

__device__ __forceinline__ float gs_denormalize(float v, long long length, int align) {
    return align ? (v + 1.0f) / 2.0f * (float) (length - 1) : ((v + 1.0f) * (float) length - 1.0f) / 2.0f;
}

__device__ __forceinline__ float gs_reflect(float x, float lo, float hi) {
    float range = hi - lo;
    if (range <= 0.0f) return lo;
    if (x < lo) {
        float d = lo - x;
        int k = (int) (d / range);
        float r = d - k * range;
        return k % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        float d = x - hi;
        int k = (int) (d / range);
        float r = d - k * range;
        return k % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

__device__ __forceinline__ long long gs_clamp(long long v, long long lo, long long hi) { return v < lo ? lo : v > hi ? hi : v; }

template <typename S>
__device__ __forceinline__ float gs_pixel(const typename S::word* image, long long r, long long c, long long h, long long w, int pad,
                                          float bx0, float by0, float bx1, float by1) {
    if (pad == 0) {
        if (c < 0 || c >= w || r < 0 || r >= h) return 0.0f;
    } else if (pad == 1) {
        c = gs_clamp(c, 0, w - 1);
        r = gs_clamp(r, 0, h - 1);
    } else {
        c = gs_clamp((long long) gs_reflect((float) c, bx0, bx1), 0, w - 1);
        r = gs_clamp((long long) gs_reflect((float) r, by0, by1), 0, h - 1);
    }
    return S::load(image, r * w + c);
}

__device__ __forceinline__ void gs_cubic(float t, float* k) {
    const float a = -0.75f;
    float x = fabsf(t);
    k[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
    k[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
    k[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
    k[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

template <typename S>
__device__ void gs_nchw(const typename S::word* x, const typename S::word* grid, typename S::word* y, const long long* args, long long n) {
    const long long C = args[1], H = args[2], W = args[3], Ho = args[4], Wo = args[5];
    const int align = (int) args[6], mode = (int) args[7], pad = (int) args[8];
    const float bx0 = align ? 0.0f : -0.5f, by0 = bx0;
    const float bx1 = align ? (float) (W - 1) : (float) W - 0.5f, by1 = align ? (float) (H - 1) : (float) H - 0.5f;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        const long long ox = i % Wo, oy = (i / Wo) % Ho, ch = (i / (Wo * Ho)) % C, b = i / (Wo * Ho * C);
        const typename S::word* image = x + (b * C + ch) * H * W;
        const long long g = ((b * Ho + oy) * Wo + ox) * 2;
        const float fx = gs_denormalize(S::load(grid, g), W, align), fy = gs_denormalize(S::load(grid, g + 1), H, align);
        float v;
        if (mode == 1) {
            v = gs_pixel<S>(image, (long long) rintf(fy), (long long) rintf(fx), H, W, pad, bx0, by0, bx1, by1);
        } else if (mode == 0) {
            const long long x1 = (long long) floorf(fx), y1 = (long long) floorf(fy), x2 = x1 + 1, y2 = y1 + 1;
            const float p11 = gs_pixel<S>(image, y1, x1, H, W, pad, bx0, by0, bx1, by1), p12 = gs_pixel<S>(image, y1, x2, H, W, pad, bx0, by0, bx1, by1);
            const float p21 = gs_pixel<S>(image, y2, x1, H, W, pad, bx0, by0, bx1, by1), p22 = gs_pixel<S>(image, y2, x2, H, W, pad, bx0, by0, bx1, by1);
            const float dx2 = (float) x2 - fx, dx1 = fx - (float) x1, dy2 = (float) y2 - fy, dy1 = fy - (float) y1;
            v = dy2 * (dx2 * p11 + dx1 * p12) + dy1 * (dx2 * p21 + dx1 * p22);
        } else {
            const long long x0 = (long long) floorf(fx) - 1, y0 = (long long) floorf(fy) - 1;
            float kx[4], ky[4], rows[4];
            gs_cubic(fx - (float) x0 - 1.0f, kx);
            gs_cubic(fy - (float) y0 - 1.0f, ky);
            for (int r = 0; r < 4; r++) {
                float s = 0.0f;
                for (int c = 0; c < 4; c++) s += kx[c] * gs_pixel<S>(image, y0 + r, x0 + c, H, W, pad, bx0, by0, bx1, by1);
                rows[r] = s;
            }
            v = ky[0] * rows[0] + ky[1] * rows[1] + ky[2] * rows[2] + ky[3] * rows[3];
        }
        S::store(y, i, v);
    }
}

extern "C" __global__ void gridsample_f32_nchw(const float* x, const float* grid, float* y, const long long* args, long long n) {
    gs_nchw<gs_f32>(x, grid, y, args, n);
}

extern "C" __global__ void gridsample_f16_nchw(const unsigned short* x, const unsigned short* grid, unsigned short* y, const long long* args, long long n) {
    gs_nchw<gs_f16>(x, grid, y, args, n);
}

extern "C" __global__ void gridsample_bf16_nchw(const unsigned short* x, const unsigned short* grid, unsigned short* y, const long long* args, long long n) {
    gs_nchw<gs_bf16>(x, grid, y, args, n);
}
