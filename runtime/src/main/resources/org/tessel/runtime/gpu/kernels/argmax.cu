// tessel_argmax: the greedy token of each row of logits [rows, n] in T (f32, f16 or bf16): the index of the largest value,
// the lowest index on a tie (Sampler.greedy's rule; NaN never wins), as an int per row. One block of 1024 threads a row:
// each thread scans its strided share, then the block reduces (value, index) pairs in shared memory. feed (may be null):
// the tokens again, into the next step's input ids.
extern "C" __global__ void __launch_bounds__(1024) tessel_argmax(const T* __restrict__ logits, int* __restrict__ out, int* __restrict__ feed, int n) {
    __shared__ float bestV[1024];
    __shared__ int bestI[1024];
    const T* row = logits + (long long) blockIdx.x * n;
    float v = TESSEL_NEG_INF;
    int at = n;   // none yet: loses every tie against a real index
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float x = LD_T(row, i);
        if (x > v || (at == n && x == v)) { v = x; at = i; }   // a -inf logit still names an index
    }
    bestV[threadIdx.x] = v;
    bestI[threadIdx.x] = at;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            const float ov = bestV[threadIdx.x + s];
            const int oi = bestI[threadIdx.x + s];
            if (ov > bestV[threadIdx.x] || (ov == bestV[threadIdx.x] && oi < bestI[threadIdx.x])) { bestV[threadIdx.x] = ov; bestI[threadIdx.x] = oi; }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const int token = bestI[0] == n ? 0 : bestI[0];   // every logit NaN: token 0, as Sampler.greedy
        out[blockIdx.x] = token;
        if (feed) feed[blockIdx.x] = token;   // the next decode step's input (an engine's i32 token ids), written on the device
    }
}
