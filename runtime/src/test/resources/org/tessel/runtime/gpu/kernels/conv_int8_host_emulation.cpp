// Runs conv_int8.cu's two kernels on the CPU (test only): one std::thread per CUDA thread, a
// std::barrier for __syncthreads, __shared__ arrays as statics (one block at a time), dp4a in plain
// C++. Each shape's sums are compared with a direct loop; prints "<shape>: direct D tiled T off".
// Built by Int8KernelsTest with g++ -std=c++20; kern.inc is conv_int8.cu without its PTX dp4a.
#include <barrier>
#include <cstdint>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>
struct D3 { unsigned x, y, z; };
thread_local D3 threadIdx;
D3 blockIdx, gridDim, blockDim{256, 1, 1};
std::barrier<>* bar;
struct int4 { int x, y, z, w; };
#define __global__
#define __launch_bounds__(x)
#define __align__(x) __attribute__((aligned(x)))
#define __restrict__
#define __shared__ static
#define __syncthreads() bar->arrive_and_wait()
static inline int tessel_dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) c += (int) (int8_t) (a >> (8 * i)) * (int) (int8_t) (b >> (8 * i));
    return c;
}
#include "kern.inc"

int main() {
    // n, c, h, w, k, r, s, pad, stride, dilation
    int shapes[][10] = {{1, 64, 12, 11, 64, 3, 3, 1, 1, 1}, {2, 8, 9, 7, 12, 3, 3, 1, 2, 1}, {1, 32, 14, 14, 16, 1, 1, 0, 1, 1},
                        {1, 4, 11, 13, 8, 3, 3, 2, 1, 2}, {3, 20, 17, 10, 68, 5, 3, 1, 1, 1}, {1, 12, 5, 5, 132, 2, 2, 0, 1, 1}};
    std::mt19937 g(5);
    for (auto& sh : shapes) {
        int n = sh[0], c = sh[1], h = sh[2], w = sh[3], k = sh[4], r = sh[5], s = sh[6], pad = sh[7], st = sh[8], dil = sh[9];
        int p = (h + 2 * pad - dil * (r - 1) - 1) / st + 1, q = (w + 2 * pad - dil * (s - 1) - 1) / st + 1, c4 = c / 4;
        std::vector<int8_t> x((size_t) n * h * w * c), wt((size_t) k * r * s * c);
        for (auto& v : x) v = (int8_t) ((int) (g() % 255) - 127);
        for (auto& v : wt) v = (int8_t) ((int) (g() % 255) - 127);
        size_t outs = (size_t) n * p * q * k;
        std::vector<int> ref(outs), direct(outs, 12345), tiled(outs, 12345);
        for (int nn = 0; nn < n; nn++) for (int op = 0; op < p; op++) for (int oq = 0; oq < q; oq++) for (int kk = 0; kk < k; kk++) {
            long sum = 0;
            for (int rr = 0; rr < r; rr++) {
                int ih = op * st - pad + rr * dil;
                if (ih < 0 || ih >= h) continue;
                for (int ss = 0; ss < s; ss++) {
                    int iw = oq * st - pad + ss * dil;
                    if (iw < 0 || iw >= w) continue;
                    for (int cc = 0; cc < c; cc++) sum += x[(((size_t) nn * h + ih) * w + iw) * c + cc] * wt[(((size_t) kk * r + rr) * s + ss) * c + cc];
                }
            }
            ref[(((size_t) nn * p + op) * q + oq) * k + kk] = (int) sum;
        }
        const int* xi = (const int*) x.data();
        const int* wi = (const int*) wt.data();
        gridDim = {1, 1, 1};
        blockIdx = {0, 0, 0};
        {
            std::vector<std::thread> ts;
            for (unsigned t = 0; t < 256; t++) ts.emplace_back([&, t] { threadIdx = {t, 0, 0};
                tessel_conv_int8_dp4a(xi, wi, direct.data(), n, h, w, c4, k, r, s, p, q, pad, pad, st, st, dil, dil); });
            for (auto& th : ts) th.join();
        }
        long long rows = (long long) n * p * q;
        unsigned gx = (unsigned) ((rows + 63) / 64), gy = (unsigned) ((k + 63) / 64);
        gridDim = {gx, gy, 1};
        for (unsigned bx = 0; bx < gx; bx++) for (unsigned by = 0; by < gy; by++) {
            blockIdx = {bx, by, 0};
            std::barrier<> b(256);
            bar = &b;
            std::vector<std::thread> ts;
            for (unsigned t = 0; t < 256; t++) ts.emplace_back([&, t] { threadIdx = {t, 0, 0};
                tessel_conv_int8_dp4a_tiled(xi, wi, tiled.data(), n, h, w, c4, k, r, s, p, q, pad, pad, st, st, dil, dil); });
            for (auto& th : ts) th.join();
        }
        size_t badD = 0, badT = 0;
        for (size_t i = 0; i < outs; i++) { badD += direct[i] != ref[i]; badT += tiled[i] != ref[i]; }
        printf("n%d c%d h%d w%d k%d r%d s%d pad%d stride%d dil%d (%zu outputs): direct %zu tiled %zu off\n", n, c, h, w, k, r, s, pad, st, dil, outs, badD, badT);
    }
    return 0;
}
