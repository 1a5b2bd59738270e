package org.tessel.runtime.gpu.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileSet;
import org.tessel.runtime.engine.profile.ShapeCache;

/**
 * A GPU engine built for optimization profiles (TensorRT's dynamic shapes): any input shape inside one
 * of its profiles runs without a search and without tuning. The shapes are checked and planned by the
 * {@link ProfileSet}, the same code as the CPU {@code ProfileEngine}'s (the profile's prepared graph
 * re-typed by shape inference, or a new import for a shape-dependent profile; then the profile's
 * plan), and the planned graph is built as a {@link GpuEngine} with the plan's tactics and variants
 * as the build chose them at opt (so nothing is timed again).
 *
 * <p>What the shapes share ({@link ProfileDeviceMemory}): the kernel compiler, so a kernel source seen
 * at one shape is not compiled again; the weights, uploaded once per constant, form and storage type;
 * and per profile one activation arena, planned for its max shapes and bound by every engine of the
 * profile, with the inputs at their max sizes and one workspace: a new shape allocates no activation
 * memory. Each specialised engine has one execution context whose layer sequence is captured as a CUDA
 * graph; the last {@code cacheSize} shapes are kept ({@link ShapeCache}), and an evicted one frees its
 * CUDA graph, context and layers (the shared memory stays). Runs are one at a time: every engine of a
 * profile works in the same arena.
 */
public final class GpuProfileEngine implements AutoCloseable {
    /** Shapes kept with their engine and captured CUDA graph, by default. */
    public static final int CACHE_SIZE = 8;

    private final ProfileSet set;
    private final CudaContext context;
    private final ProfileDeviceMemory memory;
    private final ShapeCache<Specialised> cache;
    private int built;

    /** One shape's engine and its execution context (CUDA graph captured). */
    private record Specialised(GpuEngine engine, GpuExecutionContext context) {
        void close() {
            context.close();
            engine.close();
        }
    }

    /** A profile engine over {@code set}'s profiles on {@code context}, keeping {@code cacheSize} shapes; {@code ptx}: kernels compiled before, or null. */
    public GpuProfileEngine(ProfileSet set, CudaContext context, int cacheSize, Map<String, String> ptx) {
        this.set = set;
        this.context = context;
        this.memory = new ProfileDeviceMemory(context, set.profiles().size(), ptx);
        this.cache = new ShapeCache<>(cacheSize, Specialised::close);
    }

    /**
     * Writes a GPU profile engine file: {@code base} (profile 0's engine at its opt shapes, so {@code tessel inspect} shows
     * its layers, and whose PTX the file carries) with {@code set}'s named blobs (source model, profiles, per-profile plans).
     */
    public static void save(GpuEngine base, ProfileSet set, java.nio.file.Path file) throws java.io.IOException { GpuEngineFile.save(base, file, set.blobs()); }

    /** The profile engine of a GPU engine file {@link GpuEngineFile#read} for this GPU; the file's PTX is loaded, not compiled, where a shape's kernels match it. */
    public static GpuProfileEngine load(org.tessel.runtime.engine.Engine file, java.nio.file.Path path, CudaContext context, int cacheSize) {
        if (!ProfileSet.in(file.kernels())) throw new org.tessel.runtime.engine.EngineFormatException(path + ": not built with optimization profiles");
        return new GpuProfileEngine(ProfileSet.read(file.kernels(), path.toString()), context, cacheSize, GpuEngineFile.ptx(file));
    }

    /**
     * What a build checks before it saves: each profile's engines at its max and min shapes, built from its plan as a run
     * would build them (every tactic and variant checked there; a failure is refused naming the shape and profile), and
     * {@code set} with the activation arena and workspace measured at each max, which a loaded engine's profiles then
     * allocate at once for every shape.
     */
    public static ProfileSet measured(ProfileSet set, CudaContext context, Map<String, String> ptx) {
        List<ProfileSet.Memory> memory = new java.util.ArrayList<>();
        try (GpuProfileEngine pe = new GpuProfileEngine(set, context, 1, ptx)) {
            for (int k = 0; k < set.profiles().size(); k++) {
                OptimizationProfile p = set.profiles().get(k);
                Specialisation atMax = pe.specialise(p.at(OptimizationProfile.Point.MAX));
                memory.add(new ProfileSet.Memory(atMax.engine().arenaBytes(), atMax.engine().workspaceBytes()));
                if (!p.at(OptimizationProfile.Point.MIN).equals(p.at(OptimizationProfile.Point.MAX))) pe.specialise(p.at(OptimizationProfile.Point.MIN));
            }
        }
        return set.withMemory(memory);
    }

    public ProfileSet set() { return set; }
    public List<OptimizationProfile> profiles() { return set.profiles(); }
    public ProfileDeviceMemory memory() { return memory; }
    public CudaContext context() { return context; }

    /**
     * The engine for these shapes and what making it cost: {@code cost} describes the steps of a new
     * shape (null from the cache); {@code preparedMs} is the one-off making of the profile's prepared
     * graph and {@code arenaMs} the one-off planning of its arena at max, when this call made them.
     */
    public record Specialisation(GpuEngine engine, GpuExecutionContext context, int profile, boolean cached, String cost, double preparedMs, double arenaMs) {}

    /** The engine for these input shapes (every input's shape, by name): from the cache, or specialised now. Shapes outside every profile are refused. */
    public synchronized Specialisation specialise(Map<String, Shape> shapes) {
        int k = set.profileOf(shapes);
        Specialised hit = cache.get(shapes);
        if (hit != null) return new Specialisation(hit.engine(), hit.context(), k, true, null, 0, 0);
        ProfileSet.Planned p = set.planIn(k, shapes);
        double arenaMs = 0;
        ProfileDeviceMemory.Arena arena = memory.arenaOf(k);
        if (arena == null) {
            long t0 = System.nanoTime();
            Map<String, Shape> max = set.profiles().get(k).at(OptimizationProfile.Point.MAX);
            arena = memory.arena(k, () -> max.equals(shapes) ? p.planned().applied().graph() : set.planIn(k, max).planned().applied().graph(), set.maxMemory(k).workspaceBytes());
            arenaMs = (System.nanoTime() - t0) / 1e6;
        }
        Graph g = p.planned().applied().graph();
        var plan = p.planned().applied().plan();
        long t0 = System.nanoTime();
        GpuEngine e;
        try {
            e = GpuEngine.buildInProfile(g, plan, GpuEngine.precisionFor(plan, g), context, memory, arena);
        } catch (GpuEngineException x) {
            throw new EngineRunException("shape " + OptimizationProfile.text(shapes) + " (profile " + k + "): " + x.getMessage());
        }
        long t1 = System.nanoTime();
        GpuExecutionContext c = e.createExecutionContext();
        c.captureGraph();
        long t2 = System.nanoTime();
        built++;
        cache.put(shapes, new Specialised(e, c));
        Map<String, Double> steps = new LinkedHashMap<>();
        steps.put("engine", (t1 - t0) / 1e6);

        steps.put("CUDA graph", (t2 - t1) / 1e6);
        // the engine's own split: its layers' making by implementation (the three costliest) and its first run
        String split = e.buildMs().entrySet().stream().filter(x -> !x.getKey().equals("layers built"))
                .sorted(Map.Entry.<String, Double>comparingByValue().reversed()).limit(4)
                .map(x -> String.format(java.util.Locale.ROOT, "%s %.1f", x.getKey(), x.getValue())).collect(java.util.stream.Collectors.joining(", "));
        return new Specialisation(e, c, k, false, p.planned().describe(steps) + (split.isEmpty() ? "" : "; engine: " + split), p.preparedMs(), arenaMs);
    }

    /** Runs on inputs by name: the engine of their shapes (specialised on first need), replaying its CUDA graph; outputs by name, as f32. */
    public synchronized Map<String, Tensor> run(Map<String, Tensor> inputs) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        inputs.forEach((k, t) -> shapes.put(k, t.shape()));
        return specialise(shapes).context().run(inputs);
    }

    /** Shapes cached now (each with its engine and CUDA graph). */
    public synchronized int cached() { return cache.size(); }
    /** Cached shapes evicted so far (their CUDA graphs and layers freed). */
    public synchronized int evictions() { return cache.evictions(); }
    /** Engines specialised so far (cache misses). */
    public synchronized int specialisations() { return built; }
    public int cacheCapacity() { return cache.capacity(); }

    /** Frees every cached engine, then the shared arenas, weights and kernels. */
    @Override public synchronized void close() {
        cache.clear();
        memory.close();
    }
}
