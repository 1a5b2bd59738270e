// tessel.deconv.direct: ConvTranspose (NCHW, up to three spatial axes padded in front with 1s, groups, strides,
// dilations, pads, output padding through the output size) as a gather: each thread computes output elements
// y[n, m, od, oh, ow] = b[m] + sum over its group's input channels c and taps k with o = i * s + k * d - p of
// x[n, c, i] * w[c, m % (M / G), k]. f32 math in the storage type T; W is [C, M / G, KD, KH, KW].
extern "C" __global__ void tessel_deconv(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                                         long long total, int C, int M, int G,
                                         int ID, int IH, int IW, int OD, int OH, int OW, int KD, int KH, int KW,
                                         int SD, int SH, int SW, int DD, int DH, int DW, int PD, int PH, int PW, int hasBias) {
    int cg = C / G, mg = M / G;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int ow = (int) (i % OW);
        long long r = i / OW;
        int oh = (int) (r % OH); r /= OH;
        int od = (int) (r % OD); r /= OD;
        int m = (int) (r % M);
        long long n = r / M;
        int g = m / mg, ml = m % mg;
        float acc = hasBias ? LD_T(b, m) : 0.0f;
        for (int kd = 0; kd < KD; kd++) {
            int td = od + PD - kd * DD;
            if (td < 0 || td % SD != 0 || td / SD >= ID) continue;
            int id = td / SD;
            for (int kh = 0; kh < KH; kh++) {
                int th = oh + PH - kh * DH;
                if (th < 0 || th % SH != 0 || th / SH >= IH) continue;
                int ih = th / SH;
                for (int kw = 0; kw < KW; kw++) {
                    int tw = ow + PW - kw * DW;
                    if (tw < 0 || tw % SW != 0 || tw / SW >= IW) continue;
                    int iw = tw / SW;
                    for (int cl = 0; cl < cg; cl++) {
                        int c = g * cg + cl;
                        float xv = LD_T(x, (((n * C + c) * ID + id) * (long long) IH + ih) * IW + iw);
                        float wv = LD_T(w, ((((long long) c * mg + ml) * KD + kd) * KH + kh) * KW + kw);
                        acc += xv * wv;
                    }
                }
            }
        }
        ST_T(y, i, acc);
    }
}
