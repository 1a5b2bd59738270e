package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineFile;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileEngine;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineFile;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Runs a saved engine on seeded random inputs (or inputs from .npy/.pb files), optionally saves its
 * outputs, and reports latency percentiles and throughput.
 */
@Command(name = "run", description = {"Run an engine on random inputs, or on --inputs files; ends with 'p50_ms=... p99_ms=... throughput=.../s'. "
        + "GPU engines run as one CUDA-graph replay per inference, timed with CUDA events.",
        "--inputs takes .npy and .pb (ONNX TensorProto) files or folders of them (an ONNX test_data_set folder: its input_N.pb), matched to the engine's "
        + "inputs by name (file stem) or, when no file is named after an input, by order; --save-outputs writes each output as DIR/NAME.npy (or .pb)."})
final class RunCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "An engine file made by `tessel build`.") Path file;
    @Option(names = "--loadEngine", paramLabel = "FILE", description = "The engine file (trtexec's name for FILE).") Path loadEngine;
    @Option(names = "--inputs", split = ",", paramLabel = "FILE_OR_DIR", description = "Input tensors: .npy or .pb files, or folders of them (repeatable or comma-separated).") List<Path> inputFiles;
    @Option(names = "--save-outputs", paramLabel = "DIR", description = "Write the outputs of the first run here, one file per output.") Path saveOutputs;
    @Option(names = "--output-format", defaultValue = "npy", paramLabel = "npy|pb", description = "File format of --save-outputs (default ${DEFAULT-VALUE}).") String outputFormat;
    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, description = "Expected batch size (engines are built for one batch size; a different one is refused).") Integer batch;
    @Option(names = "--iterations", converter = Ranges.Runs.class, defaultValue = "20", description = "Timed runs (default ${DEFAULT-VALUE}; trtexec's name too).") int iterations;
    @Option(names = "--warmup", converter = Ranges.WarmupRuns.class, defaultValue = "3", description = "Untimed runs first (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = {"--layer-info", "--exportProfile"}, description = "Write per-layer tactic, precision, layout and time as JSON to this file (trtexec: --exportProfile).") Path layerInfo;
    @Option(names = "--warmUp", paramLabel = "MS", description = "Warm up for at least MS milliseconds before timing (trtexec's --warmUp), besides --warmup runs.") Double warmUpMs;
    @Option(names = "--shapes", paramLabel = "NAME:DxD,...", description = "Input shapes for an engine built with optimization profiles (default: the first profile's opt shapes); "
            + "repeat to run several shapes in turn. A new shape is specialised once (no search) and kept in a cache of " + ProfileEngine.CACHE_SIZE + ".") List<String> shapes = new ArrayList<>();
    @Option(names = "--useCudaGraph", description = "Accepted for trtexec's sake: GPU engines always run as one CUDA-graph replay per inference.") boolean useCudaGraph;

    /** The engine file, given as FILE or --loadEngine. */
    static Path engineFile(Path positional, Path loadEngine) {
        if (positional != null && loadEngine != null) throw new IllegalArgumentException("give the engine once: FILE or --loadEngine, not both");
        if (positional == null && loadEngine == null) throw new IllegalArgumentException("no engine file: give FILE (or --loadEngine FILE)");
        return positional != null ? positional : loadEngine;
    }

    /** The inputs: from --inputs files, else seeded random ones. */
    private List<Tensor> inputs(Graph g) throws java.io.IOException {
        return inputFiles == null ? OptimizeCommand.randomInputs(g) : TensorFiles.inputs(inputFiles, g.inputs(), "--inputs");
    }

    /** Writes the outputs of one run under --save-outputs, if given. */
    private void save(Graph g, List<Tensor> outs) throws java.io.IOException {
        if (saveOutputs == null) return;
        java.util.Map<String, Tensor> named = new java.util.LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) named.put(g.outputs().get(i).name(), outs.get(i));
        List<Path> files = TensorFiles.save(saveOutputs, named, outputFormat);
        System.out.println("outputs: " + files.size() + " file(s) in " + saveOutputs + " " + files.stream().map(f -> f.getFileName().toString()).toList());
    }

    /** Runs {@code once} for --warmUp milliseconds (none without it). */
    private void warmUpFor(Runnable once) {
        if (warmUpMs == null) return;
        long end = System.nanoTime() + Math.round(warmUpMs * 1e6);
        do once.run(); while (System.nanoTime() < end);
    }

    @Override public Integer call() throws Exception {
        file = engineFile(file, loadEngine);
        if (layerInfo != null) AtomicFiles.checkWritable(layerInfo);
        if (warmUpMs != null && !(warmUpMs >= 0 && warmUpMs <= 3_600_000)) throw new IllegalArgumentException("--warmUp is milliseconds, 0 to 3600000; got " + warmUpMs);
        if (!outputFormat.equals("npy") && !outputFormat.equals("pb")) throw new IllegalArgumentException("--output-format '" + outputFormat + "': use npy or pb");
        if (saveOutputs != null && Files.exists(saveOutputs) && !Files.isDirectory(saveOutputs))
            throw new IllegalArgumentException("--save-outputs " + saveOutputs + ": exists and is not a folder");
        String backend = EngineFile.backendOf(file);
        if (backend.equals(GpuEngineFile.BACKEND)) return runGpu();
        Engine loaded = Engine.load(file, EngineHeader.Machine.cpu());
        if (ProfileEngine.hasProfiles(loaded)) return runProfiles(ProfileEngine.of(loaded, file.toString()));
        if (!shapes.isEmpty())
            throw new IllegalArgumentException(file + " was built for one shape (no optimization profiles); --shapes applies to engines built with --min-shapes/--opt-shapes/--max-shapes");
        return runCpu(loaded, "");
    }

    /**
     * Runs each --shapes set (default: the first profile's opt shapes) on the engine specialised for it,
     * printing which profile holds it and what the first run of a new shape cost.
     */
    private int runProfiles(ProfileEngine pe) throws Exception {
        int rc = 0;
        for (var set : shapeSets(pe.set(), ProfileEngine.CACHE_SIZE)) {
            ProfileEngine.Specialisation s = pe.specialise(set);
            String label = specialised(set, s.profile(), s.cached(), s.cost(), s.preparedMs());
            rc = Math.max(rc, runCpu(s.engine(), label));
        }
        return rc;
    }

    /** The --shapes sets to run (default: the first profile's opt shapes), after a header naming the profiles. */
    private List<java.util.Map<String, org.tessel.api.Shape>> shapeSets(org.tessel.runtime.engine.profile.ProfileSet ps, int cacheSize) {
        List<java.util.Map<String, org.tessel.api.Shape>> sets = new ArrayList<>();
        for (String s : shapes) sets.add(OptimizationProfile.parseShapes(s, "--shapes"));
        if (sets.isEmpty()) sets.add(ps.profiles().getFirst().at(OptimizationProfile.Point.OPT));
        if (sets.size() > 1 && (inputFiles != null || saveOutputs != null))
            throw new IllegalArgumentException((inputFiles != null ? "--inputs" : "--save-outputs") + " goes with one shape; give --shapes once");
        System.out.printf("%s: %d optimization profile(s) over %s; cache of %d specialised engines%n", file, ps.profiles().size(), ps.sourceName(), cacheSize);
        for (int i = 0; i < ps.profiles().size(); i++) System.out.println("  profile " + i + ": " + ps.profiles().get(i));
        return sets;
    }

    /** Prints which profile holds a shape set and what its first run cost; returns the label of its summary line. */
    private static String specialised(java.util.Map<String, org.tessel.api.Shape> set, int profile, boolean cached, String cost, double preparedMs) {
        if (preparedMs > 0) System.out.printf(java.util.Locale.ROOT, "profile %d: its prepared graph made once, in %.1f ms (import and passes at its opt shapes)%n", profile, preparedMs);
        String label = "shapes " + OptimizationProfile.text(set) + ", profile " + profile + ", ";
        System.out.println(label + (cached ? "engine from the cache (no specialisation)" : "first run of this shape: specialised in " + cost + ", no search"));
        return label;
    }

    /** Runs a CPU engine: saves outputs, warms up, times; {@code label} starts the summary line. */
    private int runCpu(Engine e, String label) throws Exception {
        List<Tensor> inputs = inputs(e.graph());
        int engineBatch = checkBatch(e.graph());
        ExecutionContext ctx = e.createContext();
        save(e.graph(), ctx.run(inputs));
        warmUpFor(() -> ctx.run(inputs));
        ctx.profiling(layerInfo != null);
        for (int i = 0; i < warmup; i++) ctx.run(inputs);
        double[] ms = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            ctx.run(inputs);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        if (layerInfo != null) {
            AtomicFiles.writeString(layerInfo, ctx.layerInfoJson());
            List<ExecutionContext.LayerTime> top = new ArrayList<>(ctx.layerTimes());
            top.sort((a, b) -> Double.compare(b.meanMs(), a.meanMs()));
            System.out.println("slowest layers:");
            for (ExecutionContext.LayerTime t : top.subList(0, Math.min(5, top.size())))
                System.out.printf("  %-40s %-16s %-14s %8.3f ms%n", t.plan().node(), t.op(), t.plan().tactic(), t.meanMs());
            System.out.println("layer info: " + layerInfo);
        }
        System.out.printf("%s: %sbackend %s, batch %d, %s inputs, %d iterations after %d warm-up%n", file, label, e.header().backend(), engineBatch,
                inputFiles == null ? "random" : "given", iterations, warmup);
        report(ms, engineBatch);
        return 0;
    }

    private int runGpu() throws Exception {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu))
            throw new IllegalArgumentException(file + " is a GPU engine, and this machine has no usable GPU (" + b.describe() + "); build a CPU engine here with `tessel build ... --cpu`");
        long t0 = System.nanoTime();
        Engine stored = GpuEngineFile.read(file, gpu.context());
        if (org.tessel.runtime.engine.profile.ProfileSet.in(stored.kernels())) return runGpuProfiles(gpu, stored);
        if (!shapes.isEmpty())
            throw new IllegalArgumentException(file + " was built for one shape (no optimization profiles); --shapes applies to engines built with --min-shapes/--opt-shapes/--max-shapes");
        try (GpuEngine e = GpuEngineFile.load(stored, file, gpu.context())) {
            double loadS = (System.nanoTime() - t0) / 1e9;
            int engineBatch = checkBatch(e.graph());
            List<Tensor> inputs = inputs(e.graph());
            try (GpuExecutionContext ctx = e.createExecutionContext()) {
                save(e.graph(), ctx.run(inputs));
                warmUpFor(() -> ctx.run(inputs));
                if (layerInfo != null) {
                    List<GpuExecutionContext.LayerTime> times = ctx.profileLayers(Math.max(1, warmup), Math.max(5, Math.min(iterations, 50)));
                    AtomicFiles.writeString(layerInfo, ctx.layerInfoJson(times));
                    List<GpuExecutionContext.LayerTime> top = new ArrayList<>(times);
                    top.sort((x, y) -> Double.compare(y.medianMs(), x.medianMs()));
                    System.out.println("slowest layers (each enqueued alone between CUDA events):");
                    for (GpuExecutionContext.LayerTime t : top.subList(0, Math.min(5, top.size())))
                        System.out.printf("  %-40s %-20s %-48s %8.3f ms%n", t.plan().node(), t.op(), t.plan().tactic(), t.medianMs());
                    System.out.println("layer info: " + layerInfo);
                }
                ctx.captureGraph();
                double[] ms = ctx.time(warmup, iterations);
                System.out.printf("%s: backend cuda (%s), precision %s, batch %d, loaded in %.2f s (%d kernels from the file's PTX), %d iterations after %d warm-up, CUDA-graph replay%n",
                        file, gpu.context().device().name(), e.describePrecision(), engineBatch, loadS, e.kernelsFromFile(), iterations, warmup);
                report(ms, engineBatch);
            }
        }
        return 0;
    }

    /**
     * Runs each --shapes set on a GPU profile engine: the profile that holds it, what its first run cost (shape inference
     * or import, plan, engine, CUDA graph; nothing tuned), then its CUDA graph timed; the shared memory at the end.
     */
    private int runGpuProfiles(Backend.Gpu gpu, Engine stored) throws Exception {
        if (layerInfo != null) throw new IllegalArgumentException("--layer-info profiles one engine; on an engine with optimization profiles, use `tessel inspect --profile N` for profile 0 at its opt shapes");
        try (org.tessel.runtime.gpu.engine.GpuProfileEngine pe = org.tessel.runtime.gpu.engine.GpuProfileEngine.load(stored, file, gpu.context(), org.tessel.runtime.gpu.engine.GpuProfileEngine.CACHE_SIZE)) {
            for (var set : shapeSets(pe.set(), pe.cacheCapacity())) {
                var s = pe.specialise(set);
                if (s.arenaMs() > 0) System.out.printf(java.util.Locale.ROOT, "profile %d: its arena planned once for its max shapes, in %.1f ms%n", s.profile(), s.arenaMs());
                String label = specialised(set, s.profile(), s.cached(), s.cost(), s.preparedMs());
                Graph g = s.engine().graph();
                int engineBatch = checkBatch(g);
                List<Tensor> inputs = inputs(g);
                save(g, s.context().run(inputs));
                warmUpFor(() -> s.context().run(inputs));
                double[] ms = s.context().time(warmup, iterations);
                System.out.printf("%s: %sbackend cuda (%s), precision %s, batch %d, %s inputs, %d iterations after %d warm-up, CUDA-graph replay%n", file, label,
                        gpu.context().device().name(), s.engine().describePrecision(), engineBatch, inputFiles == null ? "random" : "given", iterations, warmup);
                report(ms, engineBatch);
            }
            var m = pe.memory();
            System.out.printf(java.util.Locale.ROOT, "shared device memory: weights %.1f MiB (%d uploads, reused %d times), %d shape(s) specialised, %d evicted%n",
                    m.weightBytes() / 1048576.0, m.weightUploads(), m.weightReuses(), pe.specialisations(), pe.evictions());
            for (int k = 0; k < pe.profiles().size(); k++) {
                var a = m.arenaOf(k);
                if (a != null) System.out.printf(java.util.Locale.ROOT, "  profile %d: arena, inputs and workspace %.1f MiB in %d allocations, made once for its max shapes%s%n", k,
                        a.bytes() / 1048576.0, a.allocations(), a.ownArenas() + a.ownWorkspaces() == 0 ? "" : "; " + a.ownArenas() + " engine(s) with an arena and " + a.ownWorkspaces() + " with a workspace of their own");
            }
        }
        return 0;
    }

    private int checkBatch(Graph g) {
        int engineBatch = g.inputs().get(0).type().rank() > 0 ? g.inputs().get(0).type().shape().dim(0) : 1;
        if (batch != null && batch != engineBatch)
            throw new IllegalArgumentException(file + " was built for batch " + engineBatch + "; rebuild it with `tessel build ... --batch " + batch + "`");
        return engineBatch;
    }

    private static void report(double[] ms, int batch) {
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double mean = Arrays.stream(ms).average().orElse(0);
        System.out.printf("p50_ms=%.3f p99_ms=%.3f throughput=%.1f/s%n", percentile(sorted, 50), percentile(sorted, 99), batch * 1000.0 / mean);
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
