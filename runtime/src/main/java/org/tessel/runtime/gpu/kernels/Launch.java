package org.tessel.runtime.gpu.kernels;

/** Grid sizing shared by the kernels. */
final class Launch {
    private Launch() {}

    /** Blocks for a grid-stride loop over {@code n} items: enough to fill the GPU, capped. */
    static int gridFor(long n, int block) {
        long blocks = (n + block - 1) / block;
        return (int) Math.max(1, Math.min(blocks, 65536L * 8));
    }

    /** A block size for one-block-per-row kernels: a multiple of 32, up to 1024, about len/4 threads. */
    static int rowBlock(int len) {
        int b = 32;
        while (b < 1024 && b * 4 < len) b *= 2;
        return b;
    }
}
