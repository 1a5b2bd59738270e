package org.tessel.runtime.cuda.ffm;

import static org.tessel.runtime.cuda.ffm.Native.C_INT;
import static org.tessel.runtime.cuda.ffm.Native.C_INT64;
import static org.tessel.runtime.cuda.ffm.Native.C_POINTER;
import static org.tessel.runtime.cuda.ffm.Native.C_SIZE_T;
import static org.tessel.runtime.cuda.ffm.Native.callInt;
import static org.tessel.runtime.cuda.ffm.Native.callLong;
import static org.tessel.runtime.cuda.ffm.Native.callPointer;
import static org.tessel.runtime.cuda.ffm.Native.dev;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLASLt through java.lang.foreign: column-major matmul D = epilogue(alpha * op(A) op(B) + beta * C)
 * with FP32, TF32, FP16 and BF16 (and INT8 operands with exact int32 accumulation, CUBLAS_COMPUTE_32I, writing
 * the int32 sums or, requantized, int8; and FP8 E4M3 operands with per-tensor A and B scales, f32 accumulation and an
 * f16, bf16 or f32 D on sm_89+), the epilogues DEFAULT, RELU, BIAS, RELU_BIAS, GELU and GELU_BIAS,
 * heuristic algorithm queries and a workspace, and strided-batched matmuls ({@link Batch}). Enum values are those
 * documented in cublasLt.h and cublas_api.h; each constant says which.
 *
 * <p>Strided batches (cuBLASLt documentation, cublasLtMatrixLayoutAttribute_t and cublasLtMatmulDescAttributes_t):
 * CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT (5, int32_t) on each matrix layout is the number of matrices, and
 * CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET (6, int64_t) the offset in elements from one matrix to the next
 * (0 reuses one matrix for every batch); CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE (10, int64_t) is the offset in
 * elements from one batch's bias vector to the next.
 *
 * <p>FP8 (cuBLAS documentation, cublasLtMatmul(), "To use FP8 kernels, the following set of
 * requirements must be satisfied"): A must be transposed and B not (the "TN" format, which Hopper's
 * FP8 kernels need), the compute type CUBLAS_COMPUTE_32F with scale type CUDA_R_32F, and every
 * matrix dimension and pointer 16-byte aligned (16 e4m3 elements); the scales are device pointers to
 * one f32 each, set with CUBLASLT_MATMUL_DESC_A_SCALE_POINTER (17) and B_SCALE_POINTER (18)
 * (cublasLtMatmulDescAttributes_t), and D = alpha * scaleA * scaleB * op(A) op(B) + beta * C. The FP8
 * path here is compiled and its checks tested without a GPU; no GPU run has exercised it yet.
 *
 * <p>Requantizing INT8 (cuBLAS documentation, cublasLtMatmul(), IMMA requirements, and cublasLtPointerMode_t):
 * CUBLAS_COMPUTE_32I with scale type CUDA_R_32F takes int8 A, B, C and D; with
 * CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST (4, set as CUBLASLT_MATMUL_DESC_POINTER_MODE = 2) alpha is a
 * device vector of m floats, one per row of D, and beta one host float, and that mode is documented for an int8 D
 * only. So D[i, j] = int8(epilogue(alpha[i] * sum + beta * C[i, j] (+ bias[i]))): a per-output-channel requantize, a
 * residual through C, and the bias, whose elements for these IMMA kernels are the scale type's (f32, set as
 * CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26), and ReLU, in one call.
 */
public final class CublasLt implements AutoCloseable {
    public static final List<String> SONAMES = List.of("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so");
    public static final String DISABLES = "cuBLASLt GEMM tactics (cublaslt.gemm.*, including bias/ReLU/GELU epilogues)";

    /** cublasComputeType_t (cublas_api.h). */
    public enum ComputeType {
        /** CUBLAS_COMPUTE_16F = 64 */
        C16F(64),
        /** CUBLAS_COMPUTE_32F = 68 */
        C32F(68),
        /** CUBLAS_COMPUTE_32F_FAST_16F = 74 */
        C32F_FAST_16F(74),
        /** CUBLAS_COMPUTE_32F_FAST_16BF = 75 */
        C32F_FAST_16BF(75),
        /** CUBLAS_COMPUTE_32F_FAST_TF32 = 77 */
        C32F_FAST_TF32(77),
        /** CUBLAS_COMPUTE_32I = 72: int8 A and B, int32 accumulation (IMMA tensor cores); scale type CUDA_R_32I for an int32 D, CUDA_R_32F for an int8 one */
        C32I(72);

        final int code;
        ComputeType(int c) { code = c; }
    }

    /** cublasLtEpilogue_t (cublasLt.h). */
    public enum Epilogue {
        /** CUBLASLT_EPILOGUE_DEFAULT = 1 */
        DEFAULT(1, false),
        /** CUBLASLT_EPILOGUE_RELU = 2 */
        RELU(2, false),
        /** CUBLASLT_EPILOGUE_BIAS = 4 */
        BIAS(4, true),
        /** CUBLASLT_EPILOGUE_RELU_BIAS = RELU | BIAS = 6 */
        RELU_BIAS(6, true),
        /** CUBLASLT_EPILOGUE_GELU = 32 (tanh approximation of GELU) */
        GELU(32, false),
        /** CUBLASLT_EPILOGUE_GELU_BIAS = GELU | BIAS = 36 */
        GELU_BIAS(36, true);

        final int code;
        final boolean bias;
        Epilogue(int c, boolean b) { code = c; bias = b; }
        public boolean hasBias() { return bias; }
    }

    /** cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 (cublas_api.h). */
    static final int OP_N = 0, OP_T = 1;
    // cublasLtMatmulDescAttributes_t (cublasLt.h)
    static final int DESC_POINTER_MODE = 2, DESC_TRANSA = 3, DESC_TRANSB = 4, DESC_EPILOGUE = 7, DESC_BIAS_POINTER = 8;
    // CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26 (int32_t cudaDataType of the bias vector)
    static final int DESC_BIAS_DATA_TYPE = 26;
    // cublasLtPointerMode_t: CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST = 4
    static final int POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST = 4;
    // CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE = 10 (int64_t: elements from one batch's bias to the next)
    static final int DESC_BIAS_BATCH_STRIDE = 10;
    // cublasLtMatrixLayoutAttribute_t: CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5 (int32_t), CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6 (int64_t)
    static final int LAYOUT_BATCH_COUNT = 5, LAYOUT_STRIDED_BATCH_OFFSET = 6;
    // CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18 (device pointers to f32 scales of FP8 A and B)
    static final int DESC_A_SCALE_POINTER = 17, DESC_B_SCALE_POINTER = 18;
    // cublasLtMatmulPreferenceAttributes_t: CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1 (uint64_t)
    static final int PREF_MAX_WORKSPACE_BYTES = 1;
    /** sizeof(cublasLtMatmulHeuristicResult_t): algo (uint64_t[8]), size_t workspaceSize, int state, float wavesCount, int reserved[4]. */
    static final long HEURISTIC_RESULT_BYTES = 64 + 8 + 4 + 4 + 16;
    static final long ALGO_BYTES = 64;

    private static volatile NativeLibrary library;

    private final NativeLibrary lib;
    private final MethodHandle destroy, statusName, descCreate, descDestroy, descSet, layoutCreate, layoutDestroy, layoutSet,
            prefCreate, prefDestroy, prefSet, heuristic, matmul, getVersion;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    private CublasLt(NativeLibrary lib) {
        this.lib = lib;
        MethodHandle create = lib.function("cublasLtCreate", FunctionDescriptor.of(C_INT, C_POINTER));
        destroy = lib.function("cublasLtDestroy", FunctionDescriptor.of(C_INT, C_POINTER));
        statusName = lib.function("cublasLtGetStatusName", FunctionDescriptor.of(C_POINTER, C_INT));
        getVersion = lib.function("cublasLtGetVersion", FunctionDescriptor.of(C_SIZE_T));
        descCreate = lib.function("cublasLtMatmulDescCreate", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT));
        descDestroy = lib.function("cublasLtMatmulDescDestroy", FunctionDescriptor.of(C_INT, C_POINTER));
        descSet = lib.function("cublasLtMatmulDescSetAttribute", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER, C_SIZE_T));
        layoutCreate = lib.function("cublasLtMatrixLayoutCreate", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, C_INT64));
        layoutDestroy = lib.function("cublasLtMatrixLayoutDestroy", FunctionDescriptor.of(C_INT, C_POINTER));
        layoutSet = lib.function("cublasLtMatrixLayoutSetAttribute", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER, C_SIZE_T));
        prefCreate = lib.function("cublasLtMatmulPreferenceCreate", FunctionDescriptor.of(C_INT, C_POINTER));
        prefDestroy = lib.function("cublasLtMatmulPreferenceDestroy", FunctionDescriptor.of(C_INT, C_POINTER));
        prefSet = lib.function("cublasLtMatmulPreferenceSetAttribute", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER, C_SIZE_T));
        heuristic = lib.function("cublasLtMatmulAlgoGetHeuristic", FunctionDescriptor.of(C_INT,
                C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER, C_POINTER));
        matmul = lib.function("cublasLtMatmul", FunctionDescriptor.of(C_INT,
                C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER,
                C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_SIZE_T, C_POINTER));
        MemorySegment slot = arena.allocate(C_POINTER);
        check("cublasLtCreate", callInt(create, slot));
        handle = slot.get(C_POINTER, 0);
    }

    static NativeLibrary library() {
        NativeLibrary l = library;
        if (l == null) {
            synchronized (CublasLt.class) {
                if (library == null) library = NativeLibrary.load("cuBLASLt", DISABLES, SONAMES);
                l = library;
            }
        }
        return l;
    }

    /** A new cuBLASLt handle (use it from one thread at a time). */
    public static CublasLt create() { return new CublasLt(library()); }

    public NativeLibrary nativeLibrary() { return lib; }

    /** cublasLtGetVersion, e.g. 130100 for 13.1.0. */
    public long version() { return callLong(getVersion); }

    void check(String call, int status) {
        if (status != 0) throw new CublasException(call, status, Native.cString(callPointer(statusName, status)));
    }

    /**
     * One matmul problem in cuBLAS's column-major terms: D[m,n] = op(A) op(B) (+ bias[m]) with
     * op(A) m x k and op(B) k x n; A and B have element type {@code dataType}, C and D
     * {@code outType}; C is D. CUBLAS_COMPUTE_32I takes int8 A and B and an int32 D with the
     * default epilogue only (cuBLASLt's int32-output configuration; its IMMA kernels also want
     * A transposed, B not, and m, k and the leading dimensions multiples of 4: {@code Int8Gemm}
     * checks those with Tessel's names for them).
     */
    public record Problem(boolean transA, boolean transB, int m, int n, int k, long lda, long ldb, long ldd,
                          CudaDataType dataType, ComputeType computeType, Epilogue epilogue, CudaDataType outType) {
        public Problem {
            if (m <= 0 || n <= 0 || k <= 0) throw new IllegalArgumentException("matmul sizes must be positive, got m=" + m + " n=" + n + " k=" + k);
            if (computeType == ComputeType.C16F && dataType != CudaDataType.R_16F)
                throw new IllegalArgumentException("CUBLAS_COMPUTE_16F needs f16 data, got " + dataType);
            boolean intData = dataType == CudaDataType.R_8I || dataType == CudaDataType.R_32I || outType == CudaDataType.R_8I || outType == CudaDataType.R_32I;
            if (dataType == CudaDataType.R_8F_E4M3 || outType == CudaDataType.R_8F_E4M3) {
                String why = fp8WhyNot(transA, transB, m, n, k, lda, ldb, ldd, dataType, computeType, outType);
                if (why != null) throw new IllegalArgumentException(why);
            } else if (computeType == ComputeType.C32I) {
                if (dataType != CudaDataType.R_8I || outType != CudaDataType.R_32I && outType != CudaDataType.R_8I)
                    throw new IllegalArgumentException("CUBLAS_COMPUTE_32I takes int8 (CUDA_R_8I) A and B and an int32 (CUDA_R_32I) or int8 D, got " + dataType + " and " + outType);
                if (outType == CudaDataType.R_32I && epilogue != Epilogue.DEFAULT)
                    throw new IllegalArgumentException("CUBLAS_COMPUTE_32I with an int32 D takes only the default epilogue, got " + epilogue);
                if (outType == CudaDataType.R_8I && epilogue != Epilogue.DEFAULT && epilogue != Epilogue.RELU && epilogue != Epilogue.BIAS && epilogue != Epilogue.RELU_BIAS)
                    throw new IllegalArgumentException("an int8 D (requantized) takes the epilogues DEFAULT, RELU, BIAS and RELU_BIAS here, got " + epilogue);
                if (!transA || transB)
                    throw new IllegalArgumentException("cuBLASLt's IMMA kernels take the \"TN\" format: A transposed, B not (got transA=" + transA + ", transB=" + transB + ")");
            } else if (intData) {
                throw new IllegalArgumentException("integer data (" + dataType + " -> " + outType + ") needs CUBLAS_COMPUTE_32I, got " + computeType);
            } else if (outType != dataType) {
                throw new IllegalArgumentException("floating matmuls here write D in A's and B's type " + dataType + ", got " + outType);
            }
        }

        /**
         * Why cuBLASLt's FP8 kernels cannot take this problem, or null: e4m3 A and B (not D: Tessel writes
         * an f16, bf16 or f32 D and requantizes with its own kernel), CUBLAS_COMPUTE_32F, the "TN" format
         * (A transposed, B not), and m, k and the leading dimensions multiples of 16 (16-byte alignment); n, the columns
         * of B and D, is no leading dimension and may be any (PyTorch's scaled_mm relaxed the same check, #108308).
         */
        public static String fp8WhyNot(boolean transA, boolean transB, int m, int n, int k, long lda, long ldb, long ldd,
                                       CudaDataType dataType, ComputeType computeType, CudaDataType outType) {
            if (dataType != CudaDataType.R_8F_E4M3) return "an FP8 matmul takes e4m3 (CUDA_R_8F_E4M3) A and B, got " + dataType;
            if (outType != CudaDataType.R_16F && outType != CudaDataType.R_16BF && outType != CudaDataType.R_32F)
                return "an FP8 matmul here writes D in f16, bf16 or f32, got " + outType;
            if (computeType != ComputeType.C32F) return "an FP8 matmul computes in CUBLAS_COMPUTE_32F, got " + computeType;
            if (!transA || transB) return "cuBLASLt's FP8 kernels take the \"TN\" format: A transposed, B not (got transA=" + transA + ", transB=" + transB + ")";
            if (m % 16 != 0 || k % 16 != 0 || lda % 16 != 0 || ldb % 16 != 0 || ldd % 16 != 0)
                return "cuBLASLt's FP8 kernels need m, k and the leading dimensions multiples of 16 (got m=" + m + " n=" + n + " k=" + k
                        + " lda=" + lda + " ldb=" + ldb + " ldd=" + ldd + ")";
            return null;
        }

        /** True for an FP8 (e4m3 A and B) problem, whose plan needs A and B scale pointers. */
        public boolean fp8() { return dataType == CudaDataType.R_8F_E4M3; }

        /** True for a requantizing INT8 problem (int8 D): alpha is a device vector of m floats, beta a host float, the bias f32. */
        public boolean alphaVector() { return computeType == ComputeType.C32I && outType == CudaDataType.R_8I; }

        /** A problem whose C and D have A's and B's element type (every floating precision). */
        public Problem(boolean transA, boolean transB, int m, int n, int k, long lda, long ldb, long ldd,
                       CudaDataType dataType, ComputeType computeType, Epilogue epilogue) {
            this(transA, transB, m, n, k, lda, ldb, ldd, dataType, computeType, epilogue, dataType);
        }

        /** The scale type (of alpha and beta): f16 for CUBLAS_COMPUTE_16F, int32 for CUBLAS_COMPUTE_32I with an int32 D, f32 otherwise. */
        CudaDataType scaleType() {
            return switch (computeType) {
                case C16F -> CudaDataType.R_16F;
                case C32I -> outType == CudaDataType.R_32I ? CudaDataType.R_32I : CudaDataType.R_32F;
                default -> CudaDataType.R_32F;
            };
        }
    }

    /**
     * A strided batch of {@code count} matmuls: matrix i of A, B and D starts {@code i * strideX} elements after the first
     * (a stride of 0 reuses one matrix, e.g. an input shared by every batch), batch i's bias {@code i * biasStride}
     * elements after the first (0: one bias for all).
     */
    public record Batch(int count, long strideA, long strideB, long strideD, long biasStride) {
        /** One matmul: no batch attributes are set. */
        public static final Batch NONE = new Batch(1, 0, 0, 0, 0);

        public Batch {
            if (count < 1) throw new IllegalArgumentException("a batch has at least one matmul, got " + count);
            if (strideA < 0 || strideB < 0 || strideD < 0 || biasStride < 0)
                throw new IllegalArgumentException("batch strides are non-negative, got A " + strideA + ", B " + strideB + ", D " + strideD + ", bias " + biasStride);
            if (count > 1 && strideD == 0) throw new IllegalArgumentException("a batch of " + count + " matmuls writing one D (stride 0) would race");
        }
    }

    /** One algorithm the heuristic proposed, with the workspace it needs and its wave count. */
    public record Algo(int index, MemorySegment descriptor, long workspaceBytes, float waves) {}

    /** Descriptors of one problem plus the algorithms the heuristic offers for it; reusable across calls. */
    public final class Plan implements AutoCloseable {
        private final Problem problem;
        private final Batch batch;
        private final MemorySegment desc, aLayout, bLayout, dLayout;
        private final List<Algo> algos;
        private final Arena planArena = Arena.ofShared();
        private boolean planClosed, fp8Scaled;

        private Plan(Problem p, Batch batch, long biasAddress, int maxAlgos, long maxWorkspace) {
            this.problem = p;
            this.batch = batch;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment slot = a.allocate(C_POINTER);
                check("cublasLtMatmulDescCreate", callInt(descCreate, slot, p.computeType().code, p.scaleType().code()));
                desc = slot.get(C_POINTER, 0);
                setDescInt(a, DESC_TRANSA, p.transA() ? OP_T : OP_N);
                setDescInt(a, DESC_TRANSB, p.transB() ? OP_T : OP_N);
                setDescInt(a, DESC_EPILOGUE, p.epilogue().code);
                if (p.alphaVector()) {
                    setDescInt(a, DESC_POINTER_MODE, POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST);
                    if (p.epilogue().hasBias()) setDescInt(a, DESC_BIAS_DATA_TYPE, CudaDataType.R_32F.code());
                }
                if (p.epilogue().hasBias()) setBias(biasAddress);
                // stored shapes: A is m x k (k x m when transposed), B is k x n (n x k when transposed)
                aLayout = layout(a, p.dataType(), p.transA() ? p.k() : p.m(), p.transA() ? p.m() : p.k(), p.lda());
                bLayout = layout(a, p.dataType(), p.transB() ? p.n() : p.k(), p.transB() ? p.k() : p.n(), p.ldb());
                dLayout = layout(a, p.outType(), p.m(), p.n(), p.ldd());
                if (batch.count() > 1) {
                    if (p.fp8() || p.computeType() == ComputeType.C32I) throw new IllegalArgumentException("strided batches here are floating matmuls, got " + p.dataType());
                    setBatch(a, aLayout, batch.count(), batch.strideA());
                    setBatch(a, bLayout, batch.count(), batch.strideB());
                    setBatch(a, dLayout, batch.count(), batch.strideD());
                    if (p.epilogue().hasBias())
                        check("cublasLtMatmulDescSetAttribute(BIAS_BATCH_STRIDE)", callInt(descSet, desc, DESC_BIAS_BATCH_STRIDE, a.allocateFrom(ValueLayout.JAVA_LONG, batch.biasStride()), 8L));
                }
                MemorySegment pslot = a.allocate(C_POINTER);
                check("cublasLtMatmulPreferenceCreate", callInt(prefCreate, pslot));
                MemorySegment pref = pslot.get(C_POINTER, 0);
                try {
                    MemorySegment ws = a.allocateFrom(ValueLayout.JAVA_LONG, maxWorkspace);
                    check("cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", callInt(prefSet, pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L));
                    MemorySegment results = planArena.allocate(HEURISTIC_RESULT_BYTES * maxAlgos, 8);
                    MemorySegment count = a.allocate(C_INT);
                    check("cublasLtMatmulAlgoGetHeuristic", callInt(heuristic, handle, desc, aLayout, bLayout, dLayout, dLayout, pref, maxAlgos, results, count));
                    List<Algo> found = new ArrayList<>();
                    for (int i = 0; i < count.get(C_INT, 0); i++) {
                        MemorySegment r = results.asSlice(i * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
                        int state = r.get(ValueLayout.JAVA_INT, 72);
                        if (state != 0) continue;
                        found.add(new Algo(i, r.asSlice(0, ALGO_BYTES), r.get(ValueLayout.JAVA_LONG, 64), r.get(ValueLayout.JAVA_FLOAT, 76)));
                    }
                    algos = List.copyOf(found);
                } finally {
                    callInt(prefDestroy, pref);
                }
            }
            if (algos.isEmpty()) {
                close();
                throw new CublasException("cublasLtMatmulAlgoGetHeuristic found no algorithm for " + p + " within " + maxWorkspace + " bytes of workspace", 15, "CUBLAS_STATUS_NOT_SUPPORTED");
            }
        }

        private void setDescInt(Arena a, int attr, int value) {
            check("cublasLtMatmulDescSetAttribute(" + attr + ")", callInt(descSet, desc, attr, a.allocateFrom(C_INT, value), 4L));
        }

        /**
         * Sets the device addresses of the f32 scales of an FP8 problem's A and B (one float each:
         * D = alpha * scaleA * scaleB * op(A) op(B) + ...), CUBLASLT_MATMUL_DESC_A/B_SCALE_POINTER.
         */
        public void setFp8Scales(long aScaleAddress, long bScaleAddress) {
            if (!problem.fp8()) throw new IllegalStateException("scale pointers belong to an FP8 matmul; this one takes " + problem.dataType());
            if (aScaleAddress == 0 || bScaleAddress == 0) throw new IllegalArgumentException("an FP8 matmul needs both A and B scale pointers");
            try (Arena a = Arena.ofConfined()) {
                check("cublasLtMatmulDescSetAttribute(A_SCALE_POINTER)", callInt(descSet, desc, DESC_A_SCALE_POINTER, a.allocateFrom(ValueLayout.JAVA_LONG, aScaleAddress), 8L));
                check("cublasLtMatmulDescSetAttribute(B_SCALE_POINTER)", callInt(descSet, desc, DESC_B_SCALE_POINTER, a.allocateFrom(ValueLayout.JAVA_LONG, bScaleAddress), 8L));
            }
            fp8Scaled = true;
        }

        /** Sets the bias vector's device address (length m, D's element type; f32 for a requantizing INT8 problem). */
        public void setBias(long biasAddress) {
            if (!problem.epilogue().hasBias()) throw new IllegalStateException("epilogue " + problem.epilogue() + " takes no bias");
            if (biasAddress == 0) throw new IllegalArgumentException("epilogue " + problem.epilogue() + " needs a bias pointer");
            try (Arena a = Arena.ofConfined()) {
                check("cublasLtMatmulDescSetAttribute(BIAS_POINTER)", callInt(descSet, desc, DESC_BIAS_POINTER, a.allocateFrom(ValueLayout.JAVA_LONG, biasAddress), 8L));
            }
        }

        /** CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT (int32_t) and CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET (int64_t, elements) of one layout. */
        private void setBatch(Arena a, MemorySegment layout, int count, long stride) {
            check("cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)", callInt(layoutSet, layout, LAYOUT_BATCH_COUNT, a.allocateFrom(C_INT, count), 4L));
            check("cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)", callInt(layoutSet, layout, LAYOUT_STRIDED_BATCH_OFFSET, a.allocateFrom(ValueLayout.JAVA_LONG, stride), 8L));
        }

        private MemorySegment layout(Arena a, CudaDataType t, long rows, long cols, long ld) {
            if (ld < rows) throw new IllegalArgumentException("leading dimension " + ld + " is smaller than the " + rows + " rows of a column-major matrix");
            MemorySegment slot = a.allocate(C_POINTER);
            check("cublasLtMatrixLayoutCreate(" + rows + "x" + cols + ", ld " + ld + ")", callInt(layoutCreate, slot, t.code(), rows, cols, ld));
            return slot.get(C_POINTER, 0);
        }

        public Problem problem() { return problem; }

        public Batch batch() { return batch; }

        /** The algorithms in the heuristic's order (fastest estimate first). */
        public List<Algo> algos() { return algos; }

        /**
         * Runs D = epilogue(alpha op(A) op(B) + beta D) with algorithm {@code algo} on stream
         * {@code stream} (raw handle, 0 for the default stream).
         */
        public void run(Algo algo, float alpha, long a, long b, float beta, long d, long workspace, long workspaceBytes, long stream) {
            run(algo, alpha, a, b, beta, d, d, workspace, workspaceBytes, stream);
        }

        /**
         * D = epilogue(alpha op(A) op(B) + beta C) with C a separate matrix of D's layout (e.g. a
         * residual added through beta = 1 before the bias epilogue; C may equal D).
         */
        public void run(Algo algo, float alpha, long a, long b, float beta, long c, long d, long workspace, long workspaceBytes, long stream) {
            if (algo.workspaceBytes() > workspaceBytes)
                throw new IllegalArgumentException("algorithm " + algo.index() + " needs " + algo.workspaceBytes() + " bytes of workspace, given " + workspaceBytes);
            if (problem.fp8() && !fp8Scaled) throw new IllegalStateException("an FP8 matmul runs with its A and B scales: call setFp8Scales first");
            if (problem.alphaVector()) throw new IllegalStateException("a requantizing INT8 matmul takes a device vector of alphas: call runAlphaVector");
            try (Arena ar = Arena.ofConfined()) {
                MemorySegment al, be;
                if (problem.scaleType() == CudaDataType.R_16F) {
                    al = ar.allocateFrom(ValueLayout.JAVA_SHORT, Float.floatToFloat16(alpha));
                    be = ar.allocateFrom(ValueLayout.JAVA_SHORT, Float.floatToFloat16(beta));
                } else if (problem.scaleType() == CudaDataType.R_32I) {
                    if (alpha != Math.rint(alpha) || beta != Math.rint(beta))
                        throw new IllegalArgumentException("CUBLAS_COMPUTE_32I scales by int32 alpha and beta, got alpha " + alpha + " beta " + beta);
                    al = ar.allocateFrom(ValueLayout.JAVA_INT, (int) alpha);
                    be = ar.allocateFrom(ValueLayout.JAVA_INT, (int) beta);
                } else {
                    al = ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
                    be = ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
                }
                check("cublasLtMatmul", callInt(matmul, handle, desc, al, dev(a), aLayout, dev(b), bLayout, be, dev(c), dLayout, dev(d), dLayout,
                        algo.descriptor(), dev(workspace), workspaceBytes, dev(stream)));
            }
        }

        /**
         * A requantizing INT8 matmul ({@link Problem#alphaVector}): D = int8(epilogue(alpha[i] op(A) op(B) + beta C (+ bias[i])))
         * with {@code alphaVector} the device address of m floats.
         */
        public void runAlphaVector(Algo algo, long alphaVector, long a, long b, float beta, long c, long d, long workspace, long workspaceBytes, long stream) {
            if (!problem.alphaVector()) throw new IllegalStateException("a device vector of alphas belongs to a requantizing INT8 matmul; this one is " + problem);
            if (alphaVector == 0) throw new IllegalArgumentException("a requantizing INT8 matmul needs its device vector of " + problem.m() + " alphas");
            if (algo.workspaceBytes() > workspaceBytes)
                throw new IllegalArgumentException("algorithm " + algo.index() + " needs " + algo.workspaceBytes() + " bytes of workspace, given " + workspaceBytes);
            try (Arena ar = Arena.ofConfined()) {
                check("cublasLtMatmul", callInt(matmul, handle, desc, dev(alphaVector), dev(a), aLayout, dev(b), bLayout, ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta),
                        dev(c), dLayout, dev(d), dLayout, algo.descriptor(), dev(workspace), workspaceBytes, dev(stream)));
            }
        }

        @Override public void close() {
            if (planClosed) return;
            planClosed = true;
            if (aLayout != null) callInt(layoutDestroy, aLayout);
            if (bLayout != null) callInt(layoutDestroy, bLayout);
            if (dLayout != null) callInt(layoutDestroy, dLayout);
            callInt(descDestroy, desc);
            planArena.close();
        }
    }

    /**
     * Creates the descriptors for {@code p} and asks the heuristic for up to {@code maxAlgos}
     * algorithms needing at most {@code maxWorkspace} bytes. {@code biasAddress} is needed for bias
     * epilogues (the heuristic reads its alignment).
     */
    public Plan plan(Problem p, long biasAddress, int maxAlgos, long maxWorkspace) {
        return plan(p, Batch.NONE, biasAddress, maxAlgos, maxWorkspace);
    }

    /** As {@link #plan(Problem, long, int, long)}, for a strided batch of {@code p} (one matmul for {@link Batch#NONE}). */
    public Plan plan(Problem p, Batch batch, long biasAddress, int maxAlgos, long maxWorkspace) {
        if (maxAlgos <= 0) throw new IllegalArgumentException("ask for at least one algorithm, got " + maxAlgos);
        return new Plan(p, batch, biasAddress, maxAlgos, maxWorkspace);
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cublasLtDestroy", callInt(destroy, handle));
        arena.close();
    }
}
