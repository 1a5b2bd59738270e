package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.nio.charset.StandardCharsets;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/** A loaded module (PTX, JIT-compiled by the driver for the current device); kernels are looked up by name. */
public final class CudaModule implements AutoCloseable {
    private final CUmodule module = new CUmodule();
    private final String name;
    private boolean closed;

    private CudaModule(String name, byte[] image) {
        this.name = name;
        check("cuModuleLoadData(" + name + ")", JCudaDriver.cuModuleLoadData(module, image));
    }

    /** Loads PTX text in the current context; {@code name} appears in errors. */
    public static CudaModule loadPtx(String name, String ptx) {
        byte[] text = ptx.getBytes(StandardCharsets.US_ASCII);
        byte[] z = java.util.Arrays.copyOf(text, text.length + 1);   // the driver reads a NUL-terminated image
        return new CudaModule(name, z);
    }

    /** The kernel with the given (extern "C") name. */
    public CudaKernel kernel(String kernelName) {
        CUfunction f = new CUfunction();
        check("cuModuleGetFunction(" + name + ", " + kernelName + ")", JCudaDriver.cuModuleGetFunction(f, module, kernelName));
        return new CudaKernel(name + "." + kernelName, f);
    }

    public String name() { return name; }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cuModuleUnload(" + name + ")", JCudaDriver.cuModuleUnload(module));
    }
}
