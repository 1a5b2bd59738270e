package org.tessel.runtime.gpu.kernels;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaModule;
import org.tessel.runtime.cuda.ffm.Nvrtc;

/**
 * Compiles Tessel's CUDA C kernels with NVRTC for the context's device and caches the loaded
 * modules by source text, so each distinct specialization (element type, layout, head size,
 * fused body) is compiled once per context. Kernel templates live as resources beside this class.
 * On the emulated device ({@link CudaContext#emulated()}) the same sources are compiled by g++
 * into host libraries instead ({@link CudaModule#loadEmulated}); there is no PTX to save or preload.
 */
public final class KernelCompiler implements AutoCloseable {
    private final CudaContext context;
    private final Nvrtc nvrtc;
    private final String arch;
    private final Map<String, CudaModule> modules = new HashMap<>();
    private final Map<String, CudaKernel> named = new HashMap<>();
    private final List<CudaModule> loaded = new ArrayList<>();
    private long compileNanos;
    /** PTX of every module loaded, by the SHA-256 of its source (what a saved engine carries). */
    private final Map<String, String> ptxBySource = new java.util.TreeMap<>();
    /** PTX offered by a loaded engine file, by source hash: used instead of compiling. */
    private final Map<String, String> preloaded = new HashMap<>();
    private int preloadedUsed;

    public KernelCompiler(CudaContext context) {
        this.context = context;
        this.nvrtc = context.isEmulated() ? null : Nvrtc.get();
        this.arch = context.device().computeArch();
    }

    public CudaContext context() { return context; }

    /** The virtual architecture kernels are compiled for, e.g. "compute_90". */
    public String arch() { return arch; }

    /** Total time spent in NVRTC (g++ on the emulated device) and module loading, for reports. */
    public long compileNanos() { return compileNanos; }

    /** Number of distinct modules compiled so far. */
    public int moduleCount() { return loaded.size(); }

    /** A kernel template (resource of this package) as text. */
    public static String resource(String name) {
        try (InputStream in = KernelCompiler.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("kernel template " + name + " is missing from the runtime jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel template " + name, e);
        }
    }

    /** The prelude every kernel starts with (conversions, reductions). */
    public static String prelude() { return resource("prelude.cuh"); }

    /**
     * The kernel {@code kernelName} of the specialization called {@code programName}, which must
     * name one source text (e.g. "tessel_softmax_f16.cu"); the source is built and compiled only
     * on the first request, so repeated launches cost a map lookup.
     */
    public synchronized CudaKernel kernel(String programName, java.util.function.Supplier<String> source, String kernelName) {
        String key = programName + "#" + kernelName;
        CudaKernel k = named.get(key);
        if (k == null) {
            k = kernel(programName, source.get(), kernelName);
            named.put(key, k);
        }
        return k;
    }

    /** Compiles (or reuses) {@code source} and returns its kernel {@code kernelName}. */
    public synchronized CudaKernel kernel(String programName, String source, String kernelName) {
        CudaModule m = modules.get(source);
        if (m == null && nvrtc == null) {
            long t0 = System.nanoTime();
            context.bind();
            m = CudaModule.loadEmulated(programName, source);
            compileNanos += System.nanoTime() - t0;
            modules.put(source, m);
            loaded.add(m);
        } else if (m == null) {
            long t0 = System.nanoTime();
            String hash = sourceHash(source);
            String ptx = preloaded.get(hash);
            if (ptx != null) preloadedUsed++;
            else ptx = nvrtc.compileToPtx(source, programName, arch, List.of());
            ptxBySource.put(hash, ptx);
            context.bind();
            m = CudaModule.loadPtx(programName, ptx);
            compileNanos += System.nanoTime() - t0;
            modules.put(source, m);
            loaded.add(m);
        }
        return m.kernel(kernelName);
    }

    /** Hex SHA-256 of a kernel's source text: the key of its PTX in engine files. */
    public static String sourceHash(String source) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    /** The PTX of every module loaded so far, by source hash. */
    /** The kernels loaded here that launch with programmatic stream serialization (they wait for the kernel before them). */
    public synchronized List<String> programmaticKernels() {
        return named.values().stream().filter(CudaKernel::programmatic).map(CudaKernel::name).sorted().toList();
    }

    public synchronized Map<String, String> ptx() { return new java.util.TreeMap<>(ptxBySource); }

    /** Offers PTX (by source hash, from an engine file): a kernel whose source hashes to a key is loaded from it, not compiled. */
    public synchronized void preload(Map<String, String> ptxBySourceHash) { preloaded.putAll(ptxBySourceHash); }

    /** Modules loaded from preloaded PTX instead of NVRTC. */
    public synchronized int preloadedUsed() { return preloadedUsed; }

    @Override public synchronized void close() {
        for (CudaModule m : loaded) m.close();
        loaded.clear();
        modules.clear();
        named.clear();
    }
}
