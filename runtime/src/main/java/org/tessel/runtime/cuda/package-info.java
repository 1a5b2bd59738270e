/**
 * Tessel's device layer: a small typed layer over JCuda's CUDA driver API. {@link
 * org.tessel.runtime.cuda.CudaContext} (the device's primary context, shared with cuBLAS and
 * cuDNN), {@link org.tessel.runtime.cuda.DeviceBuffer}, {@link org.tessel.runtime.cuda.CudaStream},
 * {@link org.tessel.runtime.cuda.CudaEvent}, {@link org.tessel.runtime.cuda.CudaModule} (PTX),
 * {@link org.tessel.runtime.cuda.CudaKernel} (launch with a typed argument list) and {@link
 * org.tessel.runtime.cuda.CudaGraph} (stream capture and replay). Every failed driver call throws
 * {@link org.tessel.runtime.cuda.CudaException} naming the call and the CUresult.
 * {@link org.tessel.runtime.cuda.CudaContext#emulated()} is the emulated device behind the same
 * API: host memory, and kernels compiled by g++ ({@code EmulatedKernels}, {@code emulated_shim.h})
 * run on CPU threads; a check of kernel logic and launch arguments without a GPU, never of speed.
 */
package org.tessel.runtime.cuda;
