/**
 * GPU implementations of the catalogue's GPU tactics, each named after its tactic id:
 * library-backed ({@link org.tessel.runtime.gpu.kernels.CudnnConv} {@code cudnn.conv.*},
 * {@link org.tessel.runtime.gpu.kernels.CublasLtGemm} {@code cublaslt.gemm.*}) and Tessel's own
 * kernels, CUDA C compiled by NVRTC at engine build ({@link org.tessel.runtime.gpu.kernels.KernelCompiler}):
 * {@code tessel.eltwise.fused} (generated from a fused node's body by {@link
 * org.tessel.runtime.gpu.kernels.EltwiseCodegen}), {@code tessel.softmax}, {@code tessel.layernorm}, {@code tessel.rmsnorm},
 * {@code tessel.attention.fused}, {@code tessel.conv.depthwise_nhwc}, {@code tessel.pool.max},
 * {@code tessel.pool.avg}, {@code tessel.reformat.nchw_nhwc} and {@code tessel.cast}. Kernel
 * templates are resources beside these classes (*.cu, prelude.cuh).
 */
package org.tessel.runtime.gpu.kernels;
