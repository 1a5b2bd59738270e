// Host driver for the GridSample kernel: reads "variant n args[9]" then X and grid (4-byte floats or 2-byte words),
// launches the entry point over a deliberately small grid (so the grid-stride loop wraps), writes Y.
typedef void (*entry_f32)(const float*, const float*, float*, const long long*, long long);
typedef void (*entry_u16)(const unsigned short*, const unsigned short*, unsigned short*, const long long*, long long);

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: driver IN OUT\n"); return 2; }
    FILE* in = fopen(argv[1], "rb");
    long long head[11];
    if (!in || fread(head, 8, 11, in) != 11) { fprintf(stderr, "bad input\n"); return 2; }
    int variant = (int) head[0];
    long long n = head[1];
    const long long* args = head + 2;
    long long nx = args[0] * args[1] * args[2] * args[3], ng = args[0] * args[4] * args[5] * 2;
    size_t word = variant == 0 ? 4 : 2;
    void* x = malloc(nx * word); void* g = malloc(ng * word); void* y = calloc(n, word);
    if (fread(x, word, nx, in) != (size_t) nx || fread(g, word, ng, in) != (size_t) ng) { fprintf(stderr, "short input\n"); return 2; }
    fclose(in);
    blockDim.x = 256; blockDim.y = blockDim.z = 1;
    long long blocks = (n + 255) / 256;
    gridDim.x = (unsigned int) (blocks < 3 ? blocks : 3); gridDim.y = gridDim.z = 1;
    for (blockIdx.x = 0; blockIdx.x < gridDim.x; blockIdx.x++)
        for (threadIdx.x = 0; threadIdx.x < blockDim.x; threadIdx.x++) {
            if (variant == 0) gridsample_f32_nchw((const float*) x, (const float*) g, (float*) y, args, n);
            else if (variant == 1) gridsample_f16_nchw((const unsigned short*) x, (const unsigned short*) g, (unsigned short*) y, args, n);
            else gridsample_bf16_nchw((const unsigned short*) x, (const unsigned short*) g, (unsigned short*) y, args, n);
        }
    FILE* out = fopen(argv[2], "wb");
    fwrite(y, word, n, out);
    fclose(out);
    return 0;
}
