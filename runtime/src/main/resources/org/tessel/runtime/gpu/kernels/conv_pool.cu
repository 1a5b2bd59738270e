// tessel.conv.stem_pool: Conv (at most 4 input channels, filters up to 7x7, strides 1-2, one group) + bias + optional
// ReLU + MaxPool (windows up to 3x3, strides 1-2) in one kernel, f16 in and out, the pooled output NHWC.
// A block computes the pooled pixels of 8 x 8 tiles, all output channels, looping over the tiles (persistent: the
// packed filters are loaded into shared memory once a block). For a tile it loads the input patch the tile's
// convolution outputs read (channels padded to 4, zeros outside the image; the input addressed by element strides, so
// NCHW and NHWC alike), computes the CR x CC convolution outputs the tile's pool windows cover as a GEMM on tensor cores
// (mma.sync m16n8k16, f32 sums: M = the conv pixels, N = the output channels, K = taps x 4 channels padded to 16; an A
// fragment register is one 32-bit shared load at a precomputed pixel base plus k offset), adds the bias, applies ReLU,
// rounds to f16 into a shared conv tile (pixels outside the convolution's output are -inf, which the pool skips), then
// max-pools runs of 8 channels and writes each as one 16-byte store. The convolution's output never leaves the chip.
#define CP_T 8          /* pooled pixels a tile side */
#define CP_THREADS 128
#define CP_NEG_INF_H 0xFC00u

extern "C" __global__ void __launch_bounds__(CP_THREADS)
tessel_conv_pool(const unsigned short* __restrict__ x, const unsigned short* __restrict__ wt, const float* __restrict__ bias,
                 unsigned short* __restrict__ y, int n, int c, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw,
                 int oh, int ow, int pkh, int pkw, int psh, int psw, int pph, int ppw, int poh, int pow,
                 long long sn, long long sc, long long sy, long long sx, int relu) {
    // the tile's conv region (CR x CC conv pixels) and input patch (IR x IC pixels of 4 halves)
    const int cr = (CP_T - 1) * psh + pkh, cc = (CP_T - 1) * psw + pkw;
    const int ir = (cr - 1) * sh + kh, ic = (cc - 1) * sw + kw;
    const int kp = (kh * kw * 4 + 15) / 16 * 16, ldw = kp + 8, pixels = cr * cc, mTiles = (pixels + 15) / 16, mp = mTiles * 16;
    const int ldc = cout + 8, nTiles = cout / 8, groups = cout / 8;
    extern __shared__ __align__(16) unsigned char cp_smem[];
    unsigned short* ws = reinterpret_cast<unsigned short*>(cp_smem);                     // [cout][ldw]
    unsigned short* patch = ws + cout * ldw;                                              // [ir][ic][4]
    unsigned short* tile = patch + (ir * ic * 4 + 7) / 8 * 8;                             // [pixels][ldc]
    int* koff = reinterpret_cast<int*>(tile + pixels * ldc);                              // [kp / 2]
    int* pbase = koff + kp / 2;                                                           // [mp]
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    // the filters (packed [cout][kp] by the host), 16 bytes a copy; the k-pair offsets into the patch and each conv
    // pixel's base offset (halves)
    for (int i = tid; i < cout * (kp / 8); i += CP_THREADS) {
        const int o = i / (kp / 8), q = i % (kp / 8);
        *reinterpret_cast<uint4*>(ws + o * ldw + q * 8) = *reinterpret_cast<const uint4*>(wt + (long long) o * kp + q * 8);
    }
    for (int j = tid; j < kp / 2; j += CP_THREADS) {
        const int k = 2 * j, tap = k / 4;
        koff[j] = tap < kh * kw ? ((tap / kw) * ic + tap % kw) * 4 + (k & 3) : 0;
    }
    for (int p = tid; p < mp; p += CP_THREADS) pbase[p] = p < pixels ? ((p / cc) * sh * ic + (p % cc) * sw) * 4 : 0;
    const int tilesY = (poh + CP_T - 1) / CP_T, tilesX = (pow + CP_T - 1) / CP_T;
    const long long tiles = (long long) n * tilesY * tilesX;
    for (long long tt = blockIdx.x; tt < tiles; tt += gridDim.x) {
        const int b = (int) (tt / ((long long) tilesY * tilesX)), r = (int) (tt % ((long long) tilesY * tilesX));
        const int py0 = (r / tilesX) * CP_T, px0 = (r % tilesX) * CP_T;
        const int cy0 = py0 * psh - pph, cx0 = px0 * psw - ppw;
        const int iy0 = cy0 * sh - ph, ix0 = cx0 * sw - pw;
        __syncthreads();  // the tables are written and the last tile's pool has read the conv tile
        const unsigned short* xb = x + (long long) b * sn;
        for (int i = tid; i < ir * ic; i += CP_THREADS) {
            const int iy = iy0 + i / ic, ix = ix0 + i % ic;
            const bool in = iy >= 0 && iy < h && ix >= 0 && ix < w;
            const unsigned short* px = xb + iy * sy + ix * sx;
            const unsigned v0 = in ? px[0] : 0u, v1 = in && c > 1 ? px[sc] : 0u, v2 = in && c > 2 ? px[2 * sc] : 0u, v3 = in && c > 3 ? px[3 * sc] : 0u;
            *reinterpret_cast<uint2*>(patch + i * 4) = make_uint2(v0 | (v1 << 16), v2 | (v3 << 16));
        }
        __syncthreads();
        for (int mt = warp; mt < mTiles; mt += CP_THREADS / 32) {
            float acc[8][4];
#pragma unroll
            for (int j = 0; j < 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
            const int pb0 = pbase[mt * 16 + g], pb1 = pbase[mt * 16 + g + 8];
            for (int q = 0; q < kp / 16; q++) {
                const int k0 = koff[q * 8 + t], k1 = koff[q * 8 + t + 4];
                unsigned a[4];
                a[0] = *reinterpret_cast<const unsigned*>(patch + pb0 + k0);
                a[1] = *reinterpret_cast<const unsigned*>(patch + pb1 + k0);
                a[2] = *reinterpret_cast<const unsigned*>(patch + pb0 + k1);
                a[3] = *reinterpret_cast<const unsigned*>(patch + pb1 + k1);
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    if (j < nTiles) {
                        const unsigned short* bp = ws + (j * 8 + g) * ldw + q * 16 + 2 * t;
                        tessel_mma_f16(acc[j], a, *reinterpret_cast<const unsigned*>(bp), *reinterpret_cast<const unsigned*>(bp + 8));
                    }
                }
            }
            // bias, ReLU, f16 into the conv tile; conv pixels outside the convolution's output are -inf
#pragma unroll
            for (int j = 0; j < 8; j++) {
                if (j >= nTiles) continue;
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int row = mt * 16 + g + (e >> 1) * 8, col = j * 8 + 2 * t + (e & 1);
                    if (row >= pixels) continue;
                    const int cy = cy0 + row / cc, cx = cx0 + row % cc;
                    unsigned short hv = (unsigned short) CP_NEG_INF_H;
                    if (cy >= 0 && cy < oh && cx >= 0 && cx < ow) {
                        float v = acc[j][e] + (bias ? bias[col] : 0.0f);
                        hv = tessel_f2h(relu ? fmaxf(v, 0.0f) : v);
                    }
                    tile[row * ldc + col] = hv;
                }
            }
        }
        __syncthreads();
        // the pool: a thread takes a pooled pixel and 8 channels at a time
        for (int i = tid; i < CP_T * CP_T * groups; i += CP_THREADS) {
            const int pp = i / groups, cg = i % groups, ty = pp / CP_T, tx = pp % CP_T, py = py0 + ty, px = px0 + tx;
            if (py >= poh || px >= pow) continue;
            float m[8];
#pragma unroll
            for (int k = 0; k < 8; k++) m[k] = TESSEL_NEG_INF;
            for (int wy = 0; wy < pkh; wy++)
                for (int wx = 0; wx < pkw; wx++) {
                    const uint4 v = *reinterpret_cast<const uint4*>(tile + ((ty * psh + wy) * cc + tx * psw + wx) * ldc + cg * 8);
                    const unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                    for (int k = 0; k < 4; k++) {
                        m[2 * k] = fmaxf(m[2 * k], tessel_h2f((unsigned short) (u[k] & 0xFFFFu)));
                        m[2 * k + 1] = fmaxf(m[2 * k + 1], tessel_h2f((unsigned short) (u[k] >> 16)));
                    }
                }
            uint4 o;
            o.x = tessel_pack_f16x2(m[0], m[1]);
            o.y = tessel_pack_f16x2(m[2], m[3]);
            o.z = tessel_pack_f16x2(m[4], m[5]);
            o.w = tessel_pack_f16x2(m[6], m[7]);
            *reinterpret_cast<uint4*>(y + (((long long) b * poh + py) * pow + px) * cout + cg * 8) = o;
        }
    }
}
