package org.tessel.runtime.cuda.ffm;

/** cudaDataType_t values (library_types.h) for the element types Tessel moves through cuBLAS. */
public enum CudaDataType {
    /** CUDA_R_32F */
    R_32F(0, 4),
    /** CUDA_R_16F */
    R_16F(2, 2),
    /** CUDA_R_16BF */
    R_16BF(14, 2);

    private final int code;
    private final int bytes;

    CudaDataType(int code, int bytes) { this.code = code; this.bytes = bytes; }

    public int code() { return code; }
    public int bytes() { return bytes; }
}
