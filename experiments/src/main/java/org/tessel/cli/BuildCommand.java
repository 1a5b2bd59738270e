package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.tuning.TimingCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Builds an engine from a model and saves it: a GPU engine where there is a GPU, else a CPU engine. */
@Command(name = "build", description = "Optimize a model and save an engine; ends with 'engine: FILE, N layers, build S s'. "
        + "On a machine with a CUDA GPU this builds a GPU engine (FP32 unless --fp16/--tf32); without one, a CPU engine.")
final class BuildCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--save-engine", required = true, description = "Engine file to write.") Path out;
    @Option(names = "--pipeline", description = "Optimization pipeline (default: standard; GPU engines in FP32/TF32 keep NCHW, FP16 takes NHWC).") String pipeline;
    @Option(names = "--fp16", description = "FP16 storage and tensor-core math (GPU engines only).") boolean fp16;
    @Option(names = "--tf32", description = "TF32 tensor-core math in convolutions and GEMMs, f32 storage (GPU engines only).") boolean tf32;
    @Option(names = "--timing-cache", description = "Timing cache file: tactics are timed on the GPU, cached measurements reused, new ones saved (GPU engines only).") Path timingCache;
    @Option(names = "--target", description = "Target device for the cost model (GPU engines only), e.g. h100.") String target;
    @Option(names = "--tuning", description = "How GPU tactics are chosen: fixed (the built-in rule, nothing timed), cost-model (the cost model's pick), "
            + "top-k (time the cost model's best k), all (time every candidate). Default: top-k with --timing-cache, else fixed.") String tuning;
    @Option(names = "--top-k", defaultValue = "3", description = "Candidates timed per layer with --tuning top-k (default ${DEFAULT-VALUE}).") int topK;
    @Option(names = "--streams", defaultValue = "1", description = "Run independent branches on up to this many CUDA streams (GPU engines; default ${DEFAULT-VALUE}).") int streams;
    @Option(names = "--cpu", description = "Build a CPU engine even where there is a GPU.") boolean cpu;

    /** The build options of --tuning / --top-k. */
    private GpuEngine.Options options(TimingCache cache) {
        String level = tuning != null ? tuning : cache != null ? "top-k" : "fixed";
        if (topK < 1) throw new IllegalArgumentException("--top-k must be at least 1, got " + topK);
        return switch (level) {
            case "fixed" -> GpuEngine.Options.FIXED;
            case "cost-model" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.COST_MODEL, topK, cache);
            case "top-k" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.TOP_K, topK, cache);
            case "all" -> GpuEngine.Options.level(org.tessel.runtime.gpu.engine.OptimizationLevel.ALL, topK, cache);
            default -> throw new IllegalArgumentException("--tuning '" + level + "' is not a level; use fixed, cost-model, top-k or all");
        };
    }

    @Override public Integer call() throws Exception {
        if (fp16 && tf32) throw new IllegalArgumentException("--fp16 and --tf32 exclude each other: pick one precision");
        long t0 = System.nanoTime();
        Backend backend = cpu ? new Backend.Cpu("--cpu") : Backend.detect();
        if (!(backend instanceof Backend.Gpu gpu)) {
            if (fp16 || tf32)
                throw new IllegalArgumentException((fp16 ? "--fp16" : "--tf32") + " needs a GPU engine, and this build runs on the CPU backend ("
                        + backend.describe() + "); build without it for a CPU (FP32) engine");
            if (timingCache != null || target != null)
                System.out.println("note: --timing-cache and --target apply to GPU engines; this is a CPU engine, so they are not used");
            Graph g = model.load();
            new PassManager().run(g, StandardPipelines.resolve(pipeline == null ? "standard" : pipeline));
            Engine e = Engine.buildCpu(g);
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            e.save(out);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("backend: cpu (tactic %s for every layer), activation arena %.2f MiB, file %.2f MiB%n", Engine.CPU_REFERENCE,
                    e.arenaBytes() / 1048576.0, Files.size(out) / 1048576.0);
            System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layers().size(), s);
            return 0;
        }
        if (target != null) System.out.println("note: --target is the cost model's device for `tessel search`; a GPU engine is built for this GPU");
        GpuEngine.Precision precision = fp16 ? GpuEngine.Precision.FP16 : tf32 ? GpuEngine.Precision.TF32 : GpuEngine.Precision.FP32;
        Graph g = model.load();
        long tp = System.nanoTime();
        new PassManager().run(g, StandardPipelines.resolve(pipeline == null ? GpuEngine.pipeline(precision, g) : pipeline));
        double passS = (System.nanoTime() - tp) / 1e9;
        TimingCache cache = null;
        int cachedBefore = 0;
        if (timingCache != null) {
            cache = TimingCache.loadFor(timingCache, GpuEngine.timingEnvironment(gpu.context()), System.out::println);
            cachedBefore = cache.size();
        }
        GpuEngine.Options options = options(cache);
        long tb = System.nanoTime();
        try (GpuEngine e = GpuEngine.build(g, precision, gpu.context(), options, streams)) {
            double buildS = (System.nanoTime() - tb) / 1e9;
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            e.save(out);
            if (cache != null) {
                cache.save(timingCache);
                System.out.printf("timing cache: %s, %d entries (%d new)%n", timingCache, cache.size(), cache.size() - cachedBefore);
            }
            Map<String, Long> tactics = new java.util.TreeMap<>();
            for (var l : e.layerPlans()) tactics.merge(l.tactic().replaceAll("/.*", ""), 1L, Long::sum);
            System.out.printf("backend: cuda (%s), precision %s, passes %.2f s, layers %.2f s (%d kernel modules compiled in %.2f s), "
                    + "streams %d, weights %.1f MiB, context memory %.1f MiB, file %.1f MiB%n", gpu.context().device().name(), precision, passS, buildS,
                    e.kernelModules(), e.kernelCompileSeconds(), e.streamCount(), e.weightBytes() / 1048576.0, e.contextBytes() / 1048576.0, Files.size(out) / 1048576.0);
            System.out.println("tactics: " + tactics);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layerPlans().size(), s);
        }
        return 0;
    }
}
