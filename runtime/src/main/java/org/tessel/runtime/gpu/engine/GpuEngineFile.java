package org.tessel.runtime.gpu.engine;

import java.util.List;
import java.util.Map;
import org.tessel.ir.Node;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.tuning.TimingCache;

/**
 * GPU engine files: what a GPU offers a loader (architecture, library versions), writing an engine
 * through {@link org.tessel.runtime.engine.EngineFile} and loading one back by rebuilding every layer
 * with its stored tactic.
 */
public final class GpuEngineFile {
    private GpuEngineFile() {}

    /** Backend name in GPU engine files. */
    public static final String BACKEND = "cuda";

    /** What this GPU offers a loader: architecture (e.g. sm_90) and the library versions an engine's tactics depend on. */
    public static org.tessel.runtime.engine.EngineHeader.Machine machine(CudaContext context) {
        if (context.isEmulated())
            throw new GpuEngineException("the " + context.device().name() + " has no engine files or timing caches: it has no PTX, no GPU libraries"
                    + " and no GPU timings; build and save engines on a GPU");
        context.bind();
        Map<String, String> libs = new java.util.TreeMap<>();
        libs.put("tessel", org.tessel.runtime.engine.EngineHeader.TESSEL_VERSION);
        libs.put("cuda-driver", String.valueOf(org.tessel.runtime.cuda.CudaDevice.driverVersion()));
        try (Cudnn d = Cudnn.create()) { libs.put("cudnn", String.valueOf(d.version())); }
        try (CublasLt l = CublasLt.create()) { libs.put("cublasLt", String.valueOf(l.version())); }
        var dev = context.device();
        return new org.tessel.runtime.engine.EngineHeader.Machine(BACKEND, "sm_" + dev.computeMajor() + dev.computeMinor(), libs);
    }

    /**
     * The environment a timing cache measured on this GPU records: device name, driver, cuDNN and cuBLASLt versions, and how
     * the tuner times a node ({@code timing}: {@link GpuTuner#METHOD}), so caches timed another way are not mixed in.
     */
    public static TimingCache.Environment timingEnvironment(CudaContext context) {
        var m = machine(context);
        Map<String, String> libs = new java.util.TreeMap<>(m.libraries());
        libs.remove("cuda-driver");
        libs.remove("tessel");
        libs.put("timing", GpuTuner.METHOD);
        return new TimingCache.Environment(context.device().name().replace('=', '-'), m.libraries().get("cuda-driver"), libs);
    }

    /**
     * Writes the engine (atomically, through {@link org.tessel.runtime.engine.EngineFile}): header with
     * this GPU's architecture and library versions, the optimized graph and its weights, every layer's
     * plan, the memory plan, the PTX of every generated kernel (by source hash), the precision and the
     * plan as built (tactics with their variants). Loading rebuilds the layers from these without timing or NVRTC.
     */
    static void save(GpuEngine engine, java.nio.file.Path file) throws java.io.IOException { save(engine, file, Map.of()); }

    /** Writes the engine as {@link #save(GpuEngine, java.nio.file.Path)} does, with more named blobs (an optimization profile engine's). */
    static void save(GpuEngine engine, java.nio.file.Path file, Map<String, byte[]> blobs) throws java.io.IOException {
        var m = machine(engine.context());
        var header = new org.tessel.runtime.engine.EngineHeader(org.tessel.runtime.engine.EngineHeader.FORMAT_VERSION, m.backend(), m.gpuArch(), m.libraries(), 0, new byte[32]);
        Map<String, long[]> memory = new java.util.LinkedHashMap<>();
        for (var e : engine.memoryPlan().allocations().entrySet()) memory.put(e.getKey().name(), new long[] {e.getValue().offset(), e.getValue().bytes()});
        Map<String, byte[]> kernels = new java.util.LinkedHashMap<>();
        kernels.put(META_PRECISION, engine.precision().name().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        kernels.put(META_STREAMS, String.valueOf(engine.streamCount()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        for (var e : engine.compiler().ptx().entrySet()) kernels.put(PTX_PREFIX + e.getKey(), e.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        kernels.putAll(blobs);
        org.tessel.runtime.engine.Engine.of(header, engine.graph(), engine.layerPlans(), memory, engine.planArenaBytes(), kernels, engine.plan()).save(file);
    }

    static final String META_PRECISION = "meta/precision", META_STREAMS = "meta/streams", PTX_PREFIX = "ptx/";

    /**
     * Loads a GPU engine file for this GPU: the header must match (architecture, library versions,
     * format, checksum; else a clear {@link org.tessel.runtime.engine.EngineFormatException}), then
     * every layer is rebuilt with its stored tactic (variant included) and the stored PTX; the rebuilt plan must equal
     * the stored one.
     */
    static GpuEngine load(java.nio.file.Path file, CudaContext context) { return load(read(file, context), file, context); }

    /** A GPU engine file read for this GPU (header checked: architecture, library versions, format, checksum), its layers not built yet. */
    public static org.tessel.runtime.engine.Engine read(java.nio.file.Path file, CudaContext context) {
        var e = org.tessel.runtime.engine.Engine.load(file, machine(context));
        if (!e.header().backend().equals(BACKEND))
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": not a GPU engine (backend " + e.header().backend() + ")");
        return e;
    }

    /** The kernels' PTX stored in an engine file, by source hash. */
    static Map<String, String> ptx(org.tessel.runtime.engine.Engine e) {
        Map<String, String> ptx = new java.util.HashMap<>();
        for (var k : e.kernels().entrySet())
            if (k.getKey().startsWith(PTX_PREFIX)) ptx.put(k.getKey().substring(PTX_PREFIX.length()), new String(k.getValue(), java.nio.charset.StandardCharsets.UTF_8));
        return ptx;
    }

    /** Builds the engine of a file {@link #read} for this GPU: every layer with its stored tactic and the stored PTX. */
    public static GpuEngine load(org.tessel.runtime.engine.Engine e, java.nio.file.Path file, CudaContext context) {
        byte[] pr = e.kernels().get(META_PRECISION);
        if (pr == null) throw new org.tessel.runtime.engine.EngineFormatException(file + ": GPU engine without " + META_PRECISION);
        GpuEngine.Precision precision;
        try {
            precision = GpuEngine.Precision.valueOf(new String(pr, java.nio.charset.StandardCharsets.UTF_8));
        } catch (IllegalArgumentException x) {
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": unknown precision '" + new String(pr, java.nio.charset.StandardCharsets.UTF_8) + "'");
        }
        // the stored layer table is the built plan, variants included: every layer is rebuilt with its tactic
        Map<String, String> tactics = new java.util.HashMap<>();
        for (LayerPlan l : e.layers()) tactics.put(l.node(), l.tactic());
        Map<String, String> ptx = ptx(e);
        int streams = 1;
        byte[] st = e.kernels().get(META_STREAMS);
        if (st != null) {
            try {
                streams = Integer.parseInt(new String(st, java.nio.charset.StandardCharsets.UTF_8));
            } catch (NumberFormatException x) {
                throw new org.tessel.runtime.engine.EngineFormatException(file + ": malformed " + META_STREAMS);
            }
        }
        for (Node n : e.graph().nodes())
            if (!tactics.containsKey(n.name())) throw new org.tessel.runtime.engine.EngineFormatException(file + ": the layer table has no layer for " + n.describe());
        GpuEngine engine = GpuEngine.rebuild(e.graph(), precision, context, tactics, ptx, streams, e.plan());
        if (!engine.layerPlans().equals(e.layers())) {
            List<LayerPlan> a = e.layers(), b = engine.layerPlans();
            String diff = "";
            for (int i = 0; i < Math.min(a.size(), b.size()); i++)
                if (!a.get(i).equals(b.get(i))) { diff = "; first difference at layer " + i + ": stored " + a.get(i) + ", rebuilt " + b.get(i); break; }
            engine.close();
            throw new org.tessel.runtime.engine.EngineFormatException(file + ": the rebuilt plan differs from the stored one" + diff);
        }
        return engine;
    }

}
