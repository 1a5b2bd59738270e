package org.tessel.runtime.gpu.kernels;

import java.util.Arrays;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.matmul}: an ONNX MatMul of any two float operands (activation x activation included), numpy
 * semantics: 1-D operands are promoted ([K] as [1,K] on the left, [K,1] on the right) and the promoted dims dropped
 * from the result, leading batch dims broadcast (up to four). f32, f16 or bf16 storage, f32 math ({@code matmul.cu}).
 */
public final class BatchedMatMul {
    private BatchedMatMul() {}

    /** Most batch dims the kernel decomposes (the output's rank minus the matrix dims). */
    public static final int MAX_BATCH_DIMS = 4;
    static final int TILE = 16;

    /**
     * One product's launch: the matrix sizes, the output's batch dims (padded to four with leading 1s) and each
     * operand's element stride per batch dim (0 where it broadcasts). Made without a GPU from the operands' shapes.
     */
    public record Spec(int m, int n, int k, int[] batch, long[] aStrides, long[] bStrides) {
        public long batchCount() {
            long b = 1;
            for (int d : batch) b *= d;
            return b;
        }

        /** Elements of A, B and C the launch reads and writes (A and B as stored, before broadcasting). */
        public long outputElements() { return batchCount() * m * n; }

        /**
         * The launch for A of shape {@code a} times B of shape {@code b} (numpy matmul semantics); throws
         * IllegalArgumentException naming the mismatch (K, a batch dim that neither equals nor broadcasts, too many dims).
         */
        public static Spec of(int[] a, int[] b) {
            if (a.length == 0 || b.length == 0) throw new IllegalArgumentException("MatMul of a scalar (shapes " + Arrays.toString(a) + " x " + Arrays.toString(b) + ")");
            int[] pa = a.length == 1 ? new int[] {1, a[0]} : a, pb = b.length == 1 ? new int[] {b[0], 1} : b;
            int m = pa[pa.length - 2], k = pa[pa.length - 1], kb = pb[pb.length - 2], n = pb[pb.length - 1];
            if (k != kb) throw new IllegalArgumentException("MatMul: A's last dim " + k + " is not B's second-to-last " + kb + " (shapes " + Arrays.toString(a) + " x " + Arrays.toString(b) + ")");
            int ra = pa.length - 2, rb = pb.length - 2, rank = Math.max(ra, rb);
            if (rank > MAX_BATCH_DIMS) throw new IllegalArgumentException("MatMul with " + rank + " batch dims (the kernel takes up to " + MAX_BATCH_DIMS + ")");
            int[] batch = new int[MAX_BATCH_DIMS];
            long[] sa = new long[MAX_BATCH_DIMS], sb = new long[MAX_BATCH_DIMS];
            Arrays.fill(batch, 1);
            long strideA = (long) m * k, strideB = (long) k * n;
            for (int i = 1; i <= rank; i++) { // from the innermost batch dim outwards
                int da = i <= ra ? pa[ra - i] : 1, db = i <= rb ? pb[rb - i] : 1;
                if (da != db && da != 1 && db != 1)
                    throw new IllegalArgumentException("MatMul: batch dims " + da + " and " + db + " neither match nor broadcast (shapes " + Arrays.toString(a) + " x " + Arrays.toString(b) + ")");
                int slot = MAX_BATCH_DIMS - i;
                batch[slot] = Math.max(da, db);
                sa[slot] = da == 1 ? 0 : strideA;
                sb[slot] = db == 1 ? 0 : strideB;
                strideA *= da;
                strideB *= db;
            }
            return new Spec(m, n, k, batch, sa, sb);
        }
    }

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("matmul.cu");
    }

    /** C = A x B per {@code s}, all three in storage type {@code t}; C is [batch..., m, n] contiguous. */
    public static void run(KernelCompiler kc, DType t, Spec s, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, CudaStream stream) {
        CudaTypes.require(t, "tessel_matmul");
        long batches = s.batchCount();
        if (batches > 65535) throw new IllegalArgumentException("tessel.matmul: " + batches + " batch entries (a grid's z extent is at most 65535)");
        if ((s.m() + TILE - 1) / TILE > 65535) throw new IllegalArgumentException("tessel.matmul: M = " + s.m() + " rows (at most " + 65535 * TILE + ")");
        Softmax.check(c, t, s.outputElements(), "matmul output");
        if (s.outputElements() == 0) return;
        CudaKernel.Args args = CudaKernel.args().ptr(a).ptr(b).ptr(c).i32(s.m()).i32(s.n()).i32(s.k())
                .i32(s.batch()[1]).i32(s.batch()[2]).i32(s.batch()[3]);
        for (long x : s.aStrides()) args.i64(x);
        for (long x : s.bStrides()) args.i64(x);
        kc.kernel("tessel_matmul_" + t.text() + ".cu", () -> source(t), "tessel_matmul")
                .launch((s.n() + TILE - 1) / TILE, (s.m() + TILE - 1) / TILE, (int) batches, TILE, TILE, 1, 0, stream, args);
    }
}
