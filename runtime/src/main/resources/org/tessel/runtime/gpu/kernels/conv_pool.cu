// tessel.conv.stem_pool: a network's stem in one launch: a 2-D convolution of few input channels (1 to 4), + bias, optional
// ReLU, rounded to f16, then a MaxPool, f16 in and out, on tensor cores. Only the pooled output reaches global memory.
//
// x: N images of C channels, H x W, f16, addressed by element strides (NCHW and NHWC alike); conv KH x KW (each <= 7),
// strides SH, SW, top/left pads PH, PW, output OH x OW, COUT channels (a multiple of 8, at most 64); MaxPool PKH x PKW
// (each <= 3), strides PSH, PSW, top/left pads PPH, PPW, output YH x YW; positions outside the conv output are skipped
// (ONNX's -inf padding). y: NHWC f16 [N, YH, YW, COUT].
//
// A block computes tiles of TPH x TPW pooled pixels of one image, all channels, looping over tiles (a persistent grid:
// the filters reach shared memory once a block). A tile needs CR x CC conv pixels (CR = (TPH - 1) PSH + PKH) and an
// input patch of IR x IC pixels (IR = (CR - 1) SH + KH). The conv tile is a GEMM on mma.sync m16n8k16 (f16 products,
// f32 sums): M = the CR * CC conv pixels (16 a tile, two m-tiles a warp at a time), N = COUT, K = the taps' channels.
//
// K order: the patch holds CP channels a pixel (CP = C, or C + 1 where SW * C is odd: a zero channel makes every conv
// pixel's patch offset even), rows RS halves apart (even); within a filter row ky the k values kx * CP + c are the
// patch's consecutive halves from the window's corner, so k = ky RK + kx CP + c with RK = KW CP rounded up to even, KP
// = KH RK rounded up to 16. An A fragment register (k pair 2j, 2j + 1 of one pixel) is then one aligned 32-bit shared
// load at pixel word + pair word (two tables), ANDed with the pair's mask: 0 for the pairs past KH RK, 0x0000ffff for
// the pair whose second half is row ky's filler (KW CP odd); the filters are zero there too, and the mask keeps
// whatever the filler half reads out of the sum (a NaN or Inf included). The filters come packed by the host
// (ConvPool.packFilters): f16 [COUT][KP] in that k order, each 16 k permuted so that a lane's two B registers (k 2t, 2t+1
// and 2t+8, 2t+9) are adjacent (one 64-bit load), rows RW words apart (RW = 8 mod 16: conflict-free).
//
// Per tile: the next tile's patch is loaded into registers while the tensor cores work on this one, so a block waits
// for global memory only at its first tile. The epilogue adds the bias, applies ReLU, rounds to f16 and stores the conv
// tile in shared memory as order keys (an f16's bits with the magnitude bits flipped where the sign is set: signed
// 16-bit order is then the values' order), so the pool is packed 16-bit integer max (max.s16x2) over 16-byte runs of 8
// channels, the window clamped to the conv output; the keys turn back into f16 bits at the 16-byte store of y.
#define CP_THREADS 128
#define CP_PF 12                       // patch pixels a thread carries: IR * IC <= CP_THREADS * CP_PF
#define CP_NEG_INF_KEYS 0x83ff83ffu    // two keys of -inf (f16 0xfc00)

struct CpGeom {
    long long xsn;
    int xsc, xsh, xsw;
    int n, c, h, w, cout, kh, kw, sh, sw, ph, pw, oh, ow, pkh, pkw, psh, psw, pph, ppw, yh, yw, tph, tpw, relu;
};

// The block's shared-memory layout (ConvPool.Layout computes the same): filters, bias, k table, pixel table, patch, conv tile
struct CpLayout {
    int cp, rk, kp, ks, rw, cr, cc, ir, ic, rs, npix, mt, pairs, ldc;
    int offBias, offK, offPix, offPatch, offConv, bytes;
};

__device__ __forceinline__ int tessel_cp_up(int v, int m) { return (v + m - 1) / m * m; }

__device__ __forceinline__ CpLayout tessel_cp_layout(const CpGeom& q) {
    CpLayout L;
    L.cp = (q.sw * q.c) % 2 == 0 ? q.c : q.c + 1;
    L.rk = tessel_cp_up(q.kw * L.cp, 2);
    L.kp = tessel_cp_up(q.kh * L.rk, 16);
    L.ks = L.kp / 16;
    L.rw = L.kp / 2 + ((L.kp / 2) % 16 == 0 ? 8 : 0);
    L.cr = (q.tph - 1) * q.psh + q.pkh;
    L.cc = (q.tpw - 1) * q.psw + q.pkw;
    L.ir = (L.cr - 1) * q.sh + q.kh;
    L.ic = (L.cc - 1) * q.sw + q.kw;
    L.rs = tessel_cp_up(L.ic * L.cp, 2);
    L.npix = L.cr * L.cc;
    L.mt = (L.npix + 15) / 16;
    L.pairs = (L.mt + 1) / 2;
    L.ldc = q.cout + 8;
    L.offBias = q.cout * L.rw * 4;
    L.offK = L.offBias + 64 * 4;
    L.offPix = L.offK + L.ks * 64;
    L.offPatch = L.offPix + L.pairs * 32 * 4;
    L.offConv = L.offPatch + tessel_cp_up(L.ir * L.rs * 2 + 16, 16);
    L.bytes = L.offConv + L.npix * L.ldc * 2;
    return L;
}

// two f16 keys <-> two f16 values (an involution): flip the magnitude bits of a half whose sign is set
__device__ __forceinline__ unsigned tessel_cp_key2(unsigned v) { return v ^ (((v >> 15) & 0x00010001u) * 0x7fffu); }

// the larger of each of two signed 16-bit halves
__device__ __forceinline__ unsigned tessel_cp_max2(unsigned a, unsigned b) {
#ifdef __CUDA_ARCH__
    return __vmaxs2(a, b);
#else
    const short al = (short) (a & 0xffffu), ah = (short) (a >> 16), bl = (short) (b & 0xffffu), bh = (short) (b >> 16);
    return (unsigned) (unsigned short) (al > bl ? al : bl) | ((unsigned) (unsigned short) (ah > bh ? ah : bh) << 16);
#endif
}

// acc += A B for MI m-tiles of 16 conv pixels (pixel words pw[i][0] for row g, pw[i][1] for row g + 8) and NT n-tiles
template <int NT, int MI>
__device__ __forceinline__ void tessel_cp_mma(float (&acc)[2][NT][4], const unsigned* __restrict__ patch, const int4* __restrict__ ktab,
                                              const uint2* __restrict__ wrow, const int (&pw)[2][2], int ks, int rw2, int t) {
    for (int s = 0; s < ks; s++) {
        const int4 kt = ktab[s * 4 + t];  // words of k pairs 8s + t and 8s + t + 4 from a pixel's corner, and their masks
        unsigned a[MI][4];
#pragma unroll
        for (int i = 0; i < MI; i++) {
            a[i][0] = patch[pw[i][0] + kt.x] & (unsigned) kt.z;
            a[i][1] = patch[pw[i][1] + kt.x] & (unsigned) kt.z;
            a[i][2] = patch[pw[i][0] + kt.y] & (unsigned) kt.w;
            a[i][3] = patch[pw[i][1] + kt.y] & (unsigned) kt.w;
        }
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const uint2 b = wrow[j * 8 * rw2 + 4 * s];  // B[k 2t, 2t+1][n = 8j + g] and B[k 2t+8, 2t+9][n]
#pragma unroll
            for (int i = 0; i < MI; i++) tessel_mma_f16(acc[i][j], a[i], b.x, b.y);
        }
    }
}

template <int NT>
__device__ __forceinline__ void tessel_cp_run(const unsigned short* __restrict__ x, const unsigned short* __restrict__ wp, const float* __restrict__ bias,
                                              unsigned short* __restrict__ y, const CpGeom& q, unsigned char* sm) {
    const CpLayout L = tessel_cp_layout(q);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    float* biasS = reinterpret_cast<float*>(sm + L.offBias);
    int4* ktab = reinterpret_cast<int4*>(sm + L.offK);
    int* pix = reinterpret_cast<int*>(sm + L.offPix);
    unsigned short* patch16 = reinterpret_cast<unsigned short*>(sm + L.offPatch);
    const unsigned* patch32 = reinterpret_cast<const unsigned*>(sm + L.offPatch);
    unsigned* conv32 = reinterpret_cast<unsigned*>(sm + L.offConv);
    const uint4* conv128 = reinterpret_cast<const uint4*>(sm + L.offConv);

    // once a block: the packed filters (rows of KP halves, 16 bytes at a time) into rows RW words apart, the bias, the tables
    const int rowVec = L.kp / 8;
    for (int e = tid; e < q.cout * rowVec; e += CP_THREADS) {
        const int o = e / rowVec, v = e - o * rowVec;
        *reinterpret_cast<uint4*>(sm + (o * L.rw + v * 4) * 4) = reinterpret_cast<const uint4*>(wp)[e];
    }
    for (int e = tid; e < 64; e += CP_THREADS) biasS[e] = bias != nullptr && e < q.cout ? bias[e] : 0.0f;
    for (int e = tid; e < L.ks * 4; e += CP_THREADS) {
        int word[2], mask[2];
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int k = 2 * ((e >> 2) * 8 + (e & 3) + 4 * u);  // first k of the pair
            if (k >= q.kh * L.rk) {
                word[u] = 0;
                mask[u] = 0;
            } else {
                const int ky = k / L.rk, rem = k - ky * L.rk;
                word[u] = (ky * L.rs + rem) >> 1;
                mask[u] = rem + 1 >= q.kw * L.cp ? 0x0000ffff : (int) 0xffffffffu;
            }
        }
        ktab[e] = make_int4(word[0], word[1], mask[0], mask[1]);
    }
    for (int m = tid; m < L.pairs * 32; m += CP_THREADS) {
        const int cr = m / L.cc, cc = m - cr * L.cc;
        pix[m] = m < L.npix ? (cr * q.sh * L.rs + cc * q.sw * L.cp) >> 1 : 0;
    }

    const int tilesW = (q.yw + q.tpw - 1) / q.tpw, tilesH = (q.yh + q.tph - 1) / q.tph, perImage = tilesW * tilesH, tiles = q.n * perImage;
    // this thread's patch pixels: tid + CP_THREADS i, row r and column col of the patch, stepped by (dr, dc)
    const int dr = CP_THREADS / L.ic, dc = CP_THREADS - dr * L.ic, r0 = tid / L.ic, col0 = tid - r0 * L.ic;
    uint2 pf[CP_PF];
    // a tile's patch into pf: C channels a pixel (zeros past C and outside the image)
    auto fetch = [&](int tile) {
        const int img = tile / perImage, rest = tile - img * perImage, ty = rest / tilesW, tx = rest - ty * tilesW;
        const int iy0 = (ty * q.tph * q.psh - q.pph) * q.sh - q.ph, ix0 = (tx * q.tpw * q.psw - q.ppw) * q.sw - q.pw;
        const unsigned short* xi = x + (long long) img * q.xsn;
        int r = r0, col = col0;
#pragma unroll
        for (int i = 0; i < CP_PF; i++) {
            unsigned lo = 0, hi = 0;
            const int iy = iy0 + r, ix = ix0 + col;
            if (r < L.ir && (unsigned) iy < (unsigned) q.h && (unsigned) ix < (unsigned) q.w) {
                const unsigned short* p = xi + (long long) iy * q.xsh + (long long) ix * q.xsw;
                lo = p[0];
                if (q.c > 1) lo |= (unsigned) p[q.xsc] << 16;
                if (q.c > 2) hi = p[2 * q.xsc];
                if (q.c > 3) hi |= (unsigned) p[3 * q.xsc] << 16;
            }
            pf[i] = make_uint2(lo, hi);
            col += dc;
            r += dr;
            if (col >= L.ic) { col -= L.ic; r++; }
        }
    };
    // pf into the patch: CP halves a pixel, rows RS halves apart
    auto store = [&]() {
        int r = r0, col = col0;
#pragma unroll
        for (int i = 0; i < CP_PF; i++) {
            if (r < L.ir) {
                unsigned short* p = patch16 + r * L.rs + col * L.cp;
                p[0] = (unsigned short) (pf[i].x & 0xffffu);
                if (L.cp > 1) p[1] = (unsigned short) (pf[i].x >> 16);
                if (L.cp > 2) p[2] = (unsigned short) (pf[i].y & 0xffffu);
                if (L.cp > 3) p[3] = (unsigned short) (pf[i].y >> 16);
            }
            col += dc;
            r += dr;
            if (col >= L.ic) { col -= L.ic; r++; }
        }
    };

    int tile = blockIdx.x;
    if (tile < tiles) {
        fetch(tile);
        store();
    }
    const uint2* wrow = reinterpret_cast<const uint2*>(sm) + g * (L.rw / 2) + t;
    for (; tile < tiles; tile += gridDim.x) {
        __syncthreads();  // this tile's patch (and, the first time, the filters and tables) in place; the last pool done
        const int next = tile + gridDim.x;
        if (next < tiles) fetch(next);  // in flight while the tensor cores work
        for (int mp = warp; mp < L.pairs; mp += CP_THREADS / 32) {
            const int m0 = mp * 32;
            const int pw[2][2] = {{pix[m0 + g], pix[m0 + 8 + g]}, {pix[m0 + 16 + g], pix[m0 + 24 + g]}};
            float acc[2][NT][4];
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int j = 0; j < NT; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
            if (2 * mp + 1 < L.mt) tessel_cp_mma<NT, 2>(acc, patch32, ktab, wrow, pw, L.ks, L.rw / 2, t);
            else tessel_cp_mma<NT, 1>(acc, patch32, ktab, wrow, pw, L.ks, L.rw / 2, t);
            // epilogue: conv pixel m0 + 16 i + 8 h + g, channels 8j + 2t, + 1: + bias, ReLU, f16, key
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int m = m0 + 16 * i + 8 * h + g;
                    if (m >= L.npix) continue;
#pragma unroll
                    for (int j = 0; j < NT; j++) {
                        const float2 b = reinterpret_cast<const float2*>(biasS)[4 * j + t];
                        float v0 = acc[i][j][2 * h] + b.x, v1 = acc[i][j][2 * h + 1] + b.y;
                        if (q.relu) {
                            v0 = v0 > 0.0f ? v0 : 0.0f;  // +0 for -0, so the key of a ReLU value is its bits
                            v1 = v1 > 0.0f ? v1 : 0.0f;
                        }
                        const unsigned bits = tessel_pack_f16x2(v0, v1);
                        conv32[m * (L.ldc / 2) + 4 * j + t] = q.relu ? bits : tessel_cp_key2(bits);
                    }
                }
        }
        __syncthreads();  // the conv tile in place; every warp done with the patch
        if (next < tiles) store();
        // the pool: runs of 8 channels of a pooled pixel, a thread each, the window clamped to the conv output
        const int img = tile / perImage, rest = tile - img * perImage, ty = rest / tilesW, tx = rest - ty * tilesW;
        const int py0 = ty * q.tph, px0 = tx * q.tpw;
        for (int u = tid; u < q.tph * q.tpw * NT; u += CP_THREADS) {
            const int cg = u % NT, p = u / NT, pr = p / q.tpw, pc = p - pr * q.tpw, py = py0 + pr, px = px0 + pc;
            if (py >= q.yh || px >= q.yw) continue;
            const int cy = py * q.psh - q.pph, cx = px * q.psw - q.ppw;
            const int dy0 = max(0, -cy), dy1 = min(q.pkh, q.oh - cy), dx0 = max(0, -cx), dx1 = min(q.pkw, q.ow - cx);
            uint4 mx = make_uint4(CP_NEG_INF_KEYS, CP_NEG_INF_KEYS, CP_NEG_INF_KEYS, CP_NEG_INF_KEYS);
#pragma unroll
            for (int dy = 0; dy < 3; dy++) {
                if (dy < dy0 || dy >= dy1) continue;
#pragma unroll
                for (int dx = 0; dx < 3; dx++) {
                    if (dx < dx0 || dx >= dx1) continue;
                    const uint4 v = conv128[((pr * q.psh + dy) * L.cc + pc * q.psw + dx) * (L.ldc / 8) + cg];
                    mx.x = tessel_cp_max2(mx.x, v.x);
                    mx.y = tessel_cp_max2(mx.y, v.y);
                    mx.z = tessel_cp_max2(mx.z, v.z);
                    mx.w = tessel_cp_max2(mx.w, v.w);
                }
            }
            mx = make_uint4(tessel_cp_key2(mx.x), tessel_cp_key2(mx.y), tessel_cp_key2(mx.z), tessel_cp_key2(mx.w));
            *reinterpret_cast<uint4*>(y + (((long long) img * q.yh + py) * q.yw + px) * q.cout + 8 * cg) = mx;
        }
    }
}

// x f16 at element strides xsn (image), xsc (channel), xsh (row), xsw (column); wp the packed filters
// (ConvPool.packFilters); bias f32 [cout] or null; y f16 NHWC [n, yh, yw, cout]; tph x tpw pooled pixels a tile;
// ConvPool.Layout's bytes of dynamic shared memory; any grid (blocks loop over the tiles)
extern "C" __global__ void __launch_bounds__(CP_THREADS, 2)
tessel_conv_pool(const unsigned short* __restrict__ x, const unsigned short* __restrict__ wp, const float* __restrict__ bias, unsigned short* __restrict__ y,
                 long long xsn, int xsc, int xsh, int xsw,
                 int n, int c, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int oh, int ow,
                 int pkh, int pkw, int psh, int psw, int pph, int ppw, int yh, int yw, int tph, int tpw, int relu) {
    extern __shared__ __align__(16) unsigned char cp_smem[];
    const CpGeom q = {xsn, xsc, xsh, xsw, n, c, h, w, cout, kh, kw, sh, sw, ph, pw, oh, ow, pkh, pkw, psh, psw, pph, ppw, yh, yw, tph, tpw, relu};
    tessel_pdl();
    switch (cout >> 3) {
        case 1: tessel_cp_run<1>(x, wp, bias, y, q, cp_smem); break;
        case 2: tessel_cp_run<2>(x, wp, bias, y, q, cp_smem); break;
        case 3: tessel_cp_run<3>(x, wp, bias, y, q, cp_smem); break;
        case 4: tessel_cp_run<4>(x, wp, bias, y, q, cp_smem); break;
        case 5: tessel_cp_run<5>(x, wp, bias, y, q, cp_smem); break;
        case 6: tessel_cp_run<6>(x, wp, bias, y, q, cp_smem); break;
        case 7: tessel_cp_run<7>(x, wp, bias, y, q, cp_smem); break;
        default: tessel_cp_run<8>(x, wp, bias, y, q, cp_smem); break;
    }
}
