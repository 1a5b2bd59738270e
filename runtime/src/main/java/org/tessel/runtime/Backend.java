package org.tessel.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaDevice;
import org.tessel.runtime.gpu.GpuLibraries;

/**
 * Where engines run: a CUDA GPU, or the CPU (the reference interpreter) when there is none.
 * {@link #detect()} decides once per process: GPU when libcuda loads and the driver reports a
 * device, else CPU, printing once "tessel: no CUDA GPU found (reason); using the CPU backend".
 * System property {@code tessel.backend=cpu} forces the CPU.
 */
public sealed interface Backend permits Backend.Cpu, Backend.Gpu {
    /** One line for logs and reports. */
    String describe();

    boolean isGpu();

    /** The CPU backend: graphs run on the reference interpreter. */
    record Cpu(String reason) implements Backend {
        @Override public String describe() { return "CPU (reference interpreter): " + reason; }
        @Override public boolean isGpu() { return false; }

        public Map<String, Tensor> run(Graph g, Map<String, Tensor> inputs) { return new ReferenceInterpreter().run(g, inputs); }
    }

    /** A CUDA device with its primary context, and which of the FFM-bound libraries are present. */
    record Gpu(CudaContext context, List<GpuLibraries.Status> libraries) implements Backend {
        @Override public String describe() {
            StringBuilder sb = new StringBuilder("GPU ").append(context.device()).append(", driver ").append(CudaDevice.driverVersion());
            for (GpuLibraries.Status s : libraries) if (!s.present()) sb.append("; ").append(s.name()).append(" missing: no ").append(s.disables());
            return sb.toString();
        }
        @Override public boolean isGpu() { return true; }
    }

    /** The process-wide backend; the first call probes the machine. */
    static Backend detect() { return Detection.INSTANCE.get(true); }

    /**
     * The process-wide backend for a command that asked for the GPU by name ({@code --gpu}): probed as {@link #detect()}
     * does, but no GPU is the caller's error to report, so "using the CPU backend" is not printed before it.
     */
    static Backend detectForGpu() { return Detection.INSTANCE.get(false); }

    /** Probes again without caching or printing (tests). */
    static Backend probe() { return Detection.probe(); }
}

/** The once-per-process detection behind {@link Backend#detect()} and its one message. */
final class Detection {
    static final Detection INSTANCE = new Detection();
    private static final AtomicBoolean ANNOUNCED = new AtomicBoolean();
    private volatile Backend backend;

    private Detection() {}

    synchronized Backend get(boolean announceCpu) {
        if (backend == null) {
            backend = probe();
            if (backend instanceof Backend.Cpu cpu && announceCpu && ANNOUNCED.compareAndSet(false, true))
                System.err.println("tessel: no CUDA GPU found (" + cpu.reason() + "); using the CPU backend");
            if (backend instanceof Backend.Gpu gpu && ANNOUNCED.compareAndSet(false, true))
                for (GpuLibraries.Status s : gpu.libraries())
                    if (!s.present()) System.err.println("tessel: " + s.name() + " not found (" + s.detail() + "); this disables " + s.disables());
        }
        return backend;
    }

    static Backend probe() {
        if ("cpu".equalsIgnoreCase(System.getProperty("tessel.backend", "")))
            return new Backend.Cpu("the CPU backend was asked for with -Dtessel.backend=cpu");
        String lib = "libcuda.so.1";
        try {
            SymbolLookup.libraryLookup(lib, Arena.global());
        } catch (IllegalArgumentException e) {
            return new Backend.Cpu(lib + " (the CUDA driver) cannot be loaded");
        }
        try {
            int n = CudaDevice.count();
            if (n == 0) return new Backend.Cpu("the CUDA driver reports no device");
            return new Backend.Gpu(CudaContext.create(0), GpuLibraries.probe());
        } catch (UnsatisfiedLinkError e) {
            return new Backend.Cpu("JCuda's native driver binding did not load: " + e.getMessage());
        } catch (RuntimeException e) {
            return new Backend.Cpu("CUDA initialization failed: " + e.getMessage());
        }
    }
}
