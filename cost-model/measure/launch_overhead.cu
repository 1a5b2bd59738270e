// Per-kernel launch overhead on a dependent chain: stream launches vs one CUDA graph.
// Build and run on the GPU machine: nvcc -O2 -o launch launch_overhead.cu && ./launch
#include <cstdio>
#include <cuda_runtime.h>

__global__ void tick(float* x) { if (threadIdx.x == 0 && blockIdx.x == 0) x[0] += 1.0f; }

#define CHECK(e) do { cudaError_t r = (e); if (r != cudaSuccess) { printf("error %s at %d\n", cudaGetErrorString(r), __LINE__); return 1; } } while (0)

int main() {
    float* x; CHECK(cudaMalloc(&x, 4));
    cudaStream_t s; CHECK(cudaStreamCreate(&s));
    cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
    const int N = 20000;
    for (int i = 0; i < 1000; i++) tick<<<1, 32, 0, s>>>(x);
    CHECK(cudaStreamSynchronize(s));
    float best = 1e30f;
    for (int rep = 0; rep < 5; rep++) {
        cudaEventRecord(a, s);
        for (int i = 0; i < N; i++) tick<<<1, 32, 0, s>>>(x);
        cudaEventRecord(b, s);
        CHECK(cudaEventSynchronize(b));
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    printf("stream_launch_us %.4f\n", best * 1000.0f / N);

    const int G = 2000;
    cudaGraph_t g; cudaGraphExec_t ge;
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < G; i++) tick<<<1, 32, 0, s>>>(x);
    CHECK(cudaStreamEndCapture(s, &g));
    CHECK(cudaGraphInstantiate(&ge, g, 0));
    for (int i = 0; i < 3; i++) CHECK(cudaGraphLaunch(ge, s));
    CHECK(cudaStreamSynchronize(s));
    best = 1e30f;
    for (int rep = 0; rep < 5; rep++) {
        cudaEventRecord(a, s);
        for (int i = 0; i < 5; i++) CHECK(cudaGraphLaunch(ge, s));
        cudaEventRecord(b, s);
        CHECK(cudaEventSynchronize(b));
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    printf("graph_launch_us %.4f\n", best * 1000.0f / (5.0f * G));
    return 0;
}
