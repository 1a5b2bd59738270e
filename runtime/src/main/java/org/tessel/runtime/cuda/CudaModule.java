package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A loaded module (PTX, JIT-compiled by the driver for the current device); kernels are looked up by
 * name. On the emulated device a module is a shared library compiled by g++ from the kernel's CUDA C
 * ({@link #loadEmulated}), loaded through java.lang.foreign.
 */
public final class CudaModule implements AutoCloseable {
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    /** int launcher(gx, gy, gz, bx, by, bz, smem, void** params, int workers, char* error, int capacity), see emulated_shim.h. */
    private static final FunctionDescriptor LAUNCHER = FunctionDescriptor.of(I, I, I, I, I, I, I, I, ValueLayout.ADDRESS, I, ValueLayout.ADDRESS, I);

    private final CUmodule module;
    private final String name;
    /** The emulated module's library, its arena (closing it unloads the library) and device; null on a GPU. */
    private final SymbolLookup library;
    private final Arena arena;
    private final CudaDevice emulator;
    /** The module's PTX (null for an emulated module): which of its kernels wait for the kernel before them (PDL). */
    private final String ptx;
    private boolean closed;

    private CudaModule(String name, byte[] image, String ptx) {
        this.name = name;
        this.ptx = ptx;
        this.module = new CUmodule();
        this.library = null;
        this.arena = null;
        this.emulator = null;
        check("cuModuleLoadData(" + name + ")", JCudaDriver.cuModuleLoadData(module, image));
    }

    private CudaModule(String name, java.nio.file.Path library, CudaDevice emulator) {
        this.name = name;
        this.module = null;
        this.ptx = null;
        this.arena = Arena.ofShared();
        this.library = SymbolLookup.libraryLookup(library, arena);
        this.emulator = emulator;
    }

    /** Loads PTX text in the current context; {@code name} appears in errors. */
    public static CudaModule loadPtx(String name, String ptx) {
        byte[] text = ptx.getBytes(StandardCharsets.US_ASCII);
        byte[] z = java.util.Arrays.copyOf(text, text.length + 1);   // the driver reads a NUL-terminated image
        return new CudaModule(name, z, ptx);
    }

    /**
     * Compiles a kernel's CUDA C source (what NVRTC would take) with g++ for the emulated device, which must be the
     * current context, and loads it. Refuses, naming the program, a source the emulated device cannot run (inline PTX
     * other than the prelude's conversions, tensor-core code, CUDA headers).
     */
    public static CudaModule loadEmulated(String name, String cudaSource) {
        CudaDevice emulator = CudaContext.emulatedDevice();
        if (emulator == null) throw new CudaException("loadEmulated(" + name + ") needs the emulated device as the current context");
        EmulatedKernels.Translation t = EmulatedKernels.translate(name, cudaSource);
        return new CudaModule(name, EmulatedKernels.compile(name, t), emulator);
    }

    /** True for a module of the emulated device. */
    public boolean isEmulated() { return library != null; }

    /** The kernel with the given (extern "C") name. */
    public CudaKernel kernel(String kernelName) {
        String call = "cuModuleGetFunction(" + name + ", " + kernelName + ")";
        if (library != null) {
            if (closed) throw new IllegalStateException("module " + name + " used after close");
            MemorySegment launch = library.find("tessel_emu_launch_" + kernelName)
                    .orElseThrow(() -> new CudaException(call, CUresult.CUDA_ERROR_NOT_FOUND, "the source has no __global__ function " + kernelName));
            MemorySegment signature = library.find("tessel_emu_signature_" + kernelName).orElseThrow();
            Linker linker = Linker.nativeLinker();
            MethodHandle launcher = linker.downcallHandle(launch, LAUNCHER);
            String kinds;
            try {
                MemorySegment s = (MemorySegment) linker.downcallHandle(signature, FunctionDescriptor.of(ValueLayout.ADDRESS)).invokeExact();
                kinds = s.reinterpret(4096).getString(0, StandardCharsets.US_ASCII);
            } catch (Throwable e) {
                throw new CudaException(call, CUresult.CUDA_ERROR_NOT_FOUND, "reading the kernel's parameter types failed: " + e);
            }
            return new CudaKernel(name + "." + kernelName, launcher, kinds, emulator, this);
        }
        CudaKernel.Function f = new CudaKernel.Function();
        check(call, JCudaDriver.cuModuleGetFunction(f, module, kernelName));
        return new CudaKernel(name + "." + kernelName, f, waitsForPredecessor(ptx, kernelName));
    }

    /**
     * True when the PTX entry {@code kernel} executes {@code griddepcontrol.wait} (the prelude's {@code tessel_pdl()}):
     * it may then be launched with programmatic stream serialization, since it waits for the kernel before it itself.
     */
    static boolean waitsForPredecessor(String ptx, String kernel) {
        if (ptx == null) return false;
        int at = ptx.indexOf(".entry " + kernel + "(");
        if (at < 0) return false;
        int next = ptx.indexOf(".entry ", at + 7);
        return ptx.substring(at, next < 0 ? ptx.length() : next).contains("griddepcontrol.wait");
    }

    public String name() { return name; }

    boolean isClosed() { return closed; }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (library != null) arena.close();
        else check("cuModuleUnload(" + name + ")", JCudaDriver.cuModuleUnload(module));
    }
}
