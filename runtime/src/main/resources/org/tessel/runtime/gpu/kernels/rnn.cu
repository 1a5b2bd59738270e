// tessel.recurrent: ONNX's RNN, GRU and LSTM in two launches, f32 math and f32 state in the storage type T.
//
// tessel_rnn_input: the input projection of every time step and direction at once, P[dir][row][j] = X[row] . W[dir][j]
// + Wb[dir][j] (f32, in workspace), X's rows as stored ([seq, batch] for layout 0, [batch, seq] for layout 1) and
// j over the G*H gate rows; 16x16 tiles through shared memory, one direction per blockIdx.z.
//
// tessel_rnn_recur: the recurrence, one thread block per (batch row, direction) walking its time steps with the
// hidden (and cell) state in shared memory, or, when it does not fit 48 KiB (hidden sizes past 1,755 for LSTM), in the
// block's own slice of f32 workspace `Gs` (stateInGlobal; the block's barriers order its accesses the same way): each step adds R . h (+ Rb), one warp per gate row (blockDim.x a multiple
// of 32), to the projection and applies the gates of the op (kind 0 RNN: i; 1 GRU: z r h; 2 LSTM: i o f c, with
// peepholes P), clip bounding every gate function's input. Steps at or past a row's sequence length leave Y zero and
// the state as it was (a length outside [0, seq], which the reference refuses, is clamped into it); the reverse
// direction walks a row from its last valid step back to 0. Activation codes and the parameter table `fn`
// (dirs x 3 x {code, alpha, beta}) are RecurrentOps.KernelForm's.
#define TESSEL_RNN_TILE 16

extern "C" __global__ void tessel_rnn_input(const T* __restrict__ X, const T* __restrict__ W, const T* __restrict__ Bias, float* __restrict__ P,
                                            int rows, int GH, int I, int hasBias) {
    __shared__ float Xs[TESSEL_RNN_TILE][TESSEL_RNN_TILE + 1];
    __shared__ float Ws[TESSEL_RNN_TILE][TESSEL_RNN_TILE + 1];
    int dir = blockIdx.z, tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TESSEL_RNN_TILE + ty, col = blockIdx.x * TESSEL_RNN_TILE + tx;
    const T* w = W + (long long) dir * GH * I;
    int wrow = blockIdx.x * TESSEL_RNN_TILE + ty; // the gate row this thread loads (transposed into Ws)
    float acc = 0.0f;
    for (int k0 = 0; k0 < I; k0 += TESSEL_RNN_TILE) {
        Xs[ty][tx] = row < rows && k0 + tx < I ? LD_T(X, (long long) row * I + k0 + tx) : 0.0f;
        Ws[tx][ty] = wrow < GH && k0 + tx < I ? LD_T(w, (long long) wrow * I + k0 + tx) : 0.0f;
        __syncthreads();
        for (int kk = 0; kk < TESSEL_RNN_TILE; kk++) acc += Xs[ty][kk] * Ws[kk][tx];
        __syncthreads();
    }
    if (row < rows && col < GH) {
        if (hasBias) acc += LD_T(Bias, (long long) dir * 2 * GH + col);
        P[((long long) dir * rows + row) * GH + col] = acc;
    }
}

__device__ __forceinline__ float tessel_rnn_act(const float* f, float v) {
    float a = f[1], b = f[2];
    switch ((int) f[0]) {
        case 0: return v > 0.0f ? v : 0.0f;                                  // Relu
        case 1: return tanhf(v);                                             // Tanh
        case 2: return 1.0f / (1.0f + expf(-v));                             // Sigmoid
        case 3: return a * v + b;                                            // Affine
        case 4: return v >= 0.0f ? v : a * v;                                // LeakyRelu
        case 5: return v >= a ? v : 0.0f;                                    // ThresholdedRelu
        case 6: return a * tanhf(b * v);                                     // ScaledTanh
        case 7: return fmaxf(0.0f, fminf(1.0f, a * v + b));                  // HardSigmoid
        case 8: return v >= 0.0f ? v : a * (expf(v) - 1.0f);                 // Elu
        case 9: return v / (1.0f + fabsf(v));                                // Softsign
        default: return v > 30.0f ? v : log1pf(expf(v));                     // Softplus
    }
}

__device__ __forceinline__ float tessel_rnn_clip(float v, float c) { return c > 0.0f ? fminf(fmaxf(v, -c), c) : v; }

// out[j] = R[j] . s (+ Rb[j]) for the gate rows j in [from, to): one warp per row, its lanes striding the row (coalesced
// reads of R), summed with shuffles; s is the state vector in shared memory
__device__ __forceinline__ void tessel_rnn_rows(const T* __restrict__ r, const T* __restrict__ rb, int hasBias, int from, int to, int H,
                                                const float* s, float* out) {
    int lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    for (int j = from + (threadIdx.x >> 5); j < to; j += nw) {
        const T* rr = r + (long long) j * H;
        float acc = 0.0f;
        for (int k = lane; k < H; k += 32) acc += LD_T(rr, k) * s[k];
        acc = tessel_warp_sum(acc);
        if (lane == 0) out[j] = acc + (hasBias ? LD_T(rb, j) : 0.0f);
    }
}

extern "C" __global__ void tessel_rnn_recur(const float* __restrict__ P, const T* __restrict__ R, const T* __restrict__ Bias,
                                            const int* __restrict__ lens, const T* __restrict__ H0, const T* __restrict__ C0,
                                            const T* __restrict__ Peep, const float* __restrict__ fn,
                                            T* __restrict__ Y, T* __restrict__ Yh, T* __restrict__ Yc, float* __restrict__ Gs, int stateInGlobal,
                                            int kind, int S, int Bt, int H, int dirs, int layout, int reverseOnly,
                                            int linearBeforeReset, int inputForget, float clip,
                                            int hasBias, int hasLens, int hasH0, int hasC0, int hasPeep, int hasY, int hasYh, int hasYc) {
    extern __shared__ float rnn_smem[];
    int b = blockIdx.x, dir = blockIdx.y, tid = threadIdx.x, nt = blockDim.x;
    int G = kind == 0 ? 1 : kind == 1 ? 3 : 4, GH = G * H, rows = S * Bt;
    float* hs = stateInGlobal ? Gs + (long long) (dir * Bt + b) * (3 + G) * H : rnn_smem; // [H] hidden state
    float* cs = hs + H;          // [H] cell state (LSTM)
    float* tmp = cs + H;         // [H] GRU: rt . Ht-1
    float* rec = tmp + H;        // [G*H] R . h + Rb per gate row
    const float* f = fn + dir * 9; // this direction's functions f, g, h
    const T* r = R + (long long) dir * GH * H;
    const T* rb = Bias + (long long) dir * 2 * GH + GH;
    const T* peep = Peep + (long long) dir * 3 * H;
    bool reverse = reverseOnly || dir == 1;
    int len = hasLens ? lens[b] : S;
    len = len < 0 ? 0 : len > S ? S : len;
    int stateAt = layout == 0 ? (dir * Bt + b) * H : (b * dirs + dir) * H;
    for (int j = tid; j < H; j += nt) {
        hs[j] = hasH0 ? LD_T(H0, stateAt + j) : 0.0f;
        cs[j] = hasC0 ? LD_T(C0, stateAt + j) : 0.0f;
    }
    __syncthreads();
    // GRU without linear_before_reset multiplies Rh by rt . Ht-1, so its h rows wait for the reset gate
    int early = kind == 1 && !linearBeforeReset ? 2 * H : GH;
    for (int s = 0; s < len; s++) {
        int t = reverse ? len - 1 - s : s;
        int row = layout == 0 ? t * Bt + b : b * S + t;
        const float* p = P + ((long long) dir * rows + row) * GH;
        tessel_rnn_rows(r, rb, hasBias, 0, early, H, hs, rec);
        __syncthreads();
        if (early < GH) {
            for (int j = tid; j < H; j += nt) tmp[j] = tessel_rnn_act(f, tessel_rnn_clip(p[H + j] + rec[H + j], clip)) * hs[j];
            __syncthreads();
            tessel_rnn_rows(r, rb, hasBias, 2 * H, GH, H, tmp, rec);
            __syncthreads();
        }
        long long yAt = layout == 0 ? (((long long) t * dirs + dir) * Bt + b) * H : (((long long) b * S + t) * dirs + dir) * H;
        for (int j = tid; j < H; j += nt) {
            float h;
            if (kind == 0) {
                h = tessel_rnn_act(f, tessel_rnn_clip(p[j] + rec[j], clip));
            } else if (kind == 1) {
                float z = tessel_rnn_act(f, tessel_rnn_clip(p[j] + rec[j], clip));
                float pre;
                if (linearBeforeReset) pre = p[2 * H + j] + tessel_rnn_act(f, tessel_rnn_clip(p[H + j] + rec[H + j], clip)) * rec[2 * H + j];
                else pre = p[2 * H + j] + rec[2 * H + j];
                float cand = tessel_rnn_act(f + 3, tessel_rnn_clip(pre, clip));
                h = (1.0f - z) * cand + z * hs[j];
            } else {
                float c = cs[j];
                float pi = hasPeep ? LD_T(peep, j) : 0.0f, po = hasPeep ? LD_T(peep, H + j) : 0.0f, pf = hasPeep ? LD_T(peep, 2 * H + j) : 0.0f;
                float i = tessel_rnn_act(f, tessel_rnn_clip(p[j] + rec[j] + pi * c, clip));
                float fg = inputForget ? 1.0f - i : tessel_rnn_act(f, tessel_rnn_clip(p[2 * H + j] + rec[2 * H + j] + pf * c, clip));
                float g = tessel_rnn_act(f + 3, tessel_rnn_clip(p[3 * H + j] + rec[3 * H + j], clip));
                float cn = fg * c + i * g;
                float o = tessel_rnn_act(f, tessel_rnn_clip(p[H + j] + rec[H + j] + po * cn, clip));
                h = o * tessel_rnn_act(f + 6, cn);
                cs[j] = cn;
            }
            hs[j] = h; // each thread owns its j: every read of the old state happened before the barrier above
            if (hasY) ST_T(Y, yAt + j, h);
        }
        __syncthreads();
    }
    if (hasY)
        for (int t = len; t < S; t++) {
            long long yAt = layout == 0 ? (((long long) t * dirs + dir) * Bt + b) * H : (((long long) b * S + t) * dirs + dir) * H;
            for (int j = tid; j < H; j += nt) ST_T(Y, yAt + j, 0.0f);
        }
    for (int j = tid; j < H; j += nt) {
        if (hasYh) ST_T(Yh, stateAt + j, hs[j]);
        if (hasYc) ST_T(Yc, stateAt + j, cs[j]);
    }
}
