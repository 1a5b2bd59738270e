package org.tessel.runtime.cuda.ffm;

/** cudaDataType_t values (library_types.h) for the element types Tessel moves through cuBLAS. */
public enum CudaDataType {
    /** CUDA_R_32F */
    R_32F(0, 4),
    /** CUDA_R_16F */
    R_16F(2, 2),
    /** CUDA_R_16BF */
    R_16BF(14, 2),
    /** CUDA_R_8I = 3 (signed 8-bit integer: INT8 GEMM operands) */
    R_8I(3, 1),
    /** CUDA_R_32I = 10 (signed 32-bit integer: INT8 GEMM accumulators and scale type) */
    R_32I(10, 4),
    /** CUDA_R_8F_E4M3 = 28 (library_types.h: "real as a nv_fp8_e4m3"; FP8 GEMM operands on sm_89+) */
    R_8F_E4M3(28, 1);

    private final int code;
    private final int bytes;

    CudaDataType(int code, int bytes) { this.code = code; this.bytes = bytes; }

    public int code() { return code; }
    public int bytes() { return bytes; }
}
