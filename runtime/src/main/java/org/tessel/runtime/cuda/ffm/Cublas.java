package org.tessel.runtime.cuda.ffm;

import static org.tessel.runtime.cuda.ffm.Native.C_INT;
import static org.tessel.runtime.cuda.ffm.Native.C_POINTER;
import static org.tessel.runtime.cuda.ffm.Native.callInt;
import static org.tessel.runtime.cuda.ffm.Native.callPointer;
import static org.tessel.runtime.cuda.ffm.Native.dev;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * cuBLAS (v2 API) through java.lang.foreign for the plain GEMM: {@code cublasSgemm_v2} and
 * {@code cublasGemmEx}, column-major, alpha and beta in host memory.
 */
public final class Cublas implements AutoCloseable {
    public static final List<String> SONAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so");
    public static final String DISABLES = "cuBLAS GEMM tactics (cublas.gemm.*)";

    /** cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT = -1 (cublas_api.h). */
    static final int GEMM_DEFAULT = -1;
    /** cublasMath_t (cublas_api.h): CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3. */
    public static final int DEFAULT_MATH = 0, PEDANTIC_MATH = 2, TF32_TENSOR_OP_MATH = 3;

    private static volatile NativeLibrary library;

    private final MethodHandle destroy, setStream, sgemm, gemmEx, statusName, getVersion, setMathMode;
    private final MemorySegment handle;
    private boolean closed;

    private Cublas(NativeLibrary lib) {
        MethodHandle create = lib.function("cublasCreate_v2", FunctionDescriptor.of(C_INT, C_POINTER));
        destroy = lib.function("cublasDestroy_v2", FunctionDescriptor.of(C_INT, C_POINTER));
        setStream = lib.function("cublasSetStream_v2", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        getVersion = lib.function("cublasGetVersion_v2", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        setMathMode = lib.function("cublasSetMathMode", FunctionDescriptor.of(C_INT, C_POINTER, C_INT));
        statusName = lib.function("cublasGetStatusName", FunctionDescriptor.of(C_POINTER, C_INT));
        // cublasSgemm_v2(handle, transa, transb, m, n, k, const float* alpha, const float* A, int lda,
        //                const float* B, int ldb, const float* beta, float* C, int ldc)
        sgemm = lib.function("cublasSgemm_v2", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_INT, C_INT, C_INT,
                C_POINTER, C_POINTER, C_INT, C_POINTER, C_INT, C_POINTER, C_POINTER, C_INT));
        // cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo)
        gemmEx = lib.function("cublasGemmEx", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_INT, C_INT, C_INT,
                C_POINTER, C_POINTER, C_INT, C_INT, C_POINTER, C_INT, C_INT, C_POINTER, C_POINTER, C_INT, C_INT, C_INT, C_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment slot = a.allocate(C_POINTER);
            check("cublasCreate_v2", callInt(create, slot));
            handle = slot.get(C_POINTER, 0);
        }
    }

    static NativeLibrary library() {
        NativeLibrary l = library;
        if (l == null) {
            synchronized (Cublas.class) {
                if (library == null) library = NativeLibrary.load("cuBLAS", DISABLES, SONAMES);
                l = library;
            }
        }
        return l;
    }

    public static Cublas create() { return new Cublas(library()); }

    private void check(String call, int status) {
        if (status != 0) throw new CublasException(call, status, Native.cString(callPointer(statusName, status)));
    }

    /** cublasGetVersion_v2, e.g. 130100. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(C_INT);
            check("cublasGetVersion_v2", callInt(getVersion, handle, v));
            return v.get(C_INT, 0);
        }
    }

    /** Binds later calls to a stream (raw handle, 0 for the default stream). */
    public void setStream(long stream) { check("cublasSetStream_v2", callInt(setStream, handle, dev(stream))); }

    /** One of {@link #DEFAULT_MATH}, {@link #PEDANTIC_MATH}, {@link #TF32_TENSOR_OP_MATH}. */
    public void setMathMode(int mode) { check("cublasSetMathMode(" + mode + ")", callInt(setMathMode, handle, mode)); }

    /** C[m,n] = alpha op(A) op(B) + beta C, all f32, column-major. */
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb, float beta, long c, int ldc) {
        try (Arena ar = Arena.ofConfined()) {
            check("cublasSgemm_v2(m=" + m + ", n=" + n + ", k=" + k + ")", callInt(sgemm, handle, transA ? 1 : 0, transB ? 1 : 0, m, n, k,
                    ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), dev(a), lda, dev(b), ldb, ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta), dev(c), ldc));
        }
    }

    /** cublasGemmEx with one data type for A, B and C and an f32 (or f16 for C16F) scale. */
    public void gemmEx(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, long b, float beta, long c,
                       int lda, int ldb, int ldc, CudaDataType type, CublasLt.ComputeType compute) {
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment al, be;
            if (compute == CublasLt.ComputeType.C16F) {
                al = ar.allocateFrom(ValueLayout.JAVA_SHORT, Float.floatToFloat16(alpha));
                be = ar.allocateFrom(ValueLayout.JAVA_SHORT, Float.floatToFloat16(beta));
            } else {
                al = ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
                be = ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
            }
            check("cublasGemmEx(m=" + m + ", n=" + n + ", k=" + k + ", " + type + ", " + compute + ")", callInt(gemmEx, handle,
                    transA ? 1 : 0, transB ? 1 : 0, m, n, k, al, dev(a), type.code(), lda, dev(b), type.code(), ldb, be, dev(c), type.code(), ldc,
                    compute.code, GEMM_DEFAULT));
        }
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cublasDestroy_v2", callInt(destroy, handle));
    }
}
