// Host driver: reads "variant n" (0 f16, 1 bf16) then n 16-bit words, runs the kernel over a small grid (so the
// grid-stride loop wraps), writes the n result words.
int main(int argc, char** argv) {
    if (argc != 3) return 2;
    FILE* in = fopen(argv[1], "rb");
    long long head[2];
    if (!in || fread(head, 8, 2, in) != 2) return 2;
    long long n = head[1];
    unsigned short* x = (unsigned short*) aligned_alloc(16, (n * 2 + 15) / 16 * 16);
    unsigned short* y = (unsigned short*) aligned_alloc(16, (n * 2 + 15) / 16 * 16);
    if (fread(x, 2, n, in) != (size_t) n) return 2;
    fclose(in);
    blockDim.x = 256; blockDim.y = blockDim.z = 1;
    gridDim.x = 2; gridDim.y = gridDim.z = 1;
    for (blockIdx.x = 0; blockIdx.x < gridDim.x; blockIdx.x++)
        for (threadIdx.x = 0; threadIdx.x < blockDim.x; threadIdx.x++) {
            if (head[0] == 0) relu_f16x8(x, y, 0, n);
            else relu_bf16x8(x, y, 0, n);
        }
    FILE* out = fopen(argv[2], "wb");
    fwrite(y, 2, n, out);
    fclose(out);
    return 0;
}
