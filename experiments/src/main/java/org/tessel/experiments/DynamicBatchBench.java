package org.tessel.experiments;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileSet;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.gpu.engine.GpuProfileEngine;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * Issue 12's target for optimization profiles: a dynamic-batch engine (profile MIN..MAX, opt OPT) within 10% of the
 * fixed-shape engine at the opt batch. In one process, on one GPU: the search's plan for the model at the opt batch
 * (joint, FP32 and FP16 allowed, as {@code tessel build --fp16 --strategy joint}), the fixed-shape engine built from it,
 * and the profile engine whose plan is the fixed engine's as built (its variants), so both run the same tactics; the
 * profile engine's engines live in one arena planned at MAX. Each is timed as a CUDA-graph replay (CUDA events, p50
 * of the iterations after the warm-ups), the opt batch twice in alternation, then the profile engine at 1, 8 and MAX.
 *
 * <p>Arguments: {@code [MODEL [MIN OPT MAX]]} (default resnet50 1 32 64); {@code -Dtessel.bench.iterations} (100),
 * {@code -Dtessel.bench.warmup} (20). Prints {@code BENCH|profiles|...} lines and a {@code TARGET} line.
 */
public final class DynamicBatchBench {
    private DynamicBatchBench() {}

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "resnet50";
        int min = args.length > 3 ? Integer.parseInt(args[1]) : 1, opt = args.length > 3 ? Integer.parseInt(args[2]) : 32, max = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        int iterations = Integer.getInteger("tessel.bench.iterations", 100), warmup = Integer.getInteger("tessel.bench.warmup", 20);
        if (!(Backend.detect() instanceof Backend.Gpu gpu)) {
            System.out.println("BENCH|profiles|" + model + "|error|no CUDA GPU: " + Backend.detect().describe());
            return;
        }
        CudaContext ctx = gpu.context();
        long t0 = System.nanoTime();
        Graph g1 = Zoo.build(model, ZooOptions.defaults().withBatch(1));
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(g1), "zoo:" + model);
        String input = g1.inputs().getFirst().name();
        Shape one = g1.inputs().getFirst().type().shape();
        OptimizationProfile profile = OptimizationProfile.of(0, Map.of(input, batch(one, min)), Map.of(input, batch(one, opt)), Map.of(input, batch(one, max)));
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        Graph prepared = src.prepareAt(profile.at(OptimizationProfile.Point.OPT), Searcher.PIPELINE, "opt shapes");
        SearchProblem problem = Searcher.problem(prepared, o);
        PlanApplier.Applied applied = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        String dependence = ShapeSpecializer.shapeDependence(prepared, src.prepareAt(profile.at(OptimizationProfile.Point.MAX), Searcher.PIPELINE, "max shapes"));
        System.out.printf(Locale.ROOT, "plan: joint at batch %d, %s, solved in %.1f s; new shapes %s%n", opt, applied.plan().precisionMix(), (System.nanoTime() - t0) / 1e9,
                dependence == null ? "by shape inference" : "imported again (" + dependence + ")");
        try (GpuEngine fixed = GpuEngine.build(applied.graph(), applied.plan(), GpuEngine.precisionFor(applied.plan(), applied.graph()), ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext fc = fixed.createExecutionContext().captureGraph()) {
            ProfileSet set = GpuProfileEngine.measured(new ProfileSet(src, Searcher.PIPELINE, List.of(profile), List.of(fixed.plan()), List.of(new ProfileSet.Memory(0, 0)),
                    java.util.Collections.singletonList(dependence)), ctx, fixed.kernelPtx());
            try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, GpuProfileEngine.CACHE_SIZE, fixed.kernelPtx())) {
                List<Double> fixedP50 = new ArrayList<>(), dynP50 = new ArrayList<>();
                for (int round = 0; round < 2; round++) {
                    fixedP50.add(p50(fc, warmup, iterations));
                    var s = pe.specialise(profile.at(OptimizationProfile.Point.OPT));
                    if (!s.cached()) System.out.printf("profile engine batch %d: first run %s%n", opt, s.cost());
                    dynP50.add(p50(s.context(), warmup, iterations));
                }
                double f = fixedP50.stream().mapToDouble(Double::doubleValue).min().orElseThrow(), d = dynP50.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
                System.out.printf(Locale.ROOT, "BENCH|profiles|%s|%d|fixed|%.3f|rounds %s%n", model, opt, f, fixedP50);
                System.out.printf(Locale.ROOT, "BENCH|profiles|%s|%d|dynamic %d..%d|%.3f|rounds %s%n", model, opt, min, max, d, dynP50);
                for (int b : new int[] {min, 8, max}) {
                    if (b < min || b > max) continue;
                    var s = pe.specialise(Map.of(input, batch(one, b)));
                    if (!s.cached()) System.out.printf("profile engine batch %d: first run %s%n", b, s.cost());
                    System.out.printf(Locale.ROOT, "BENCH|profiles|%s|%d|dynamic %d..%d|%.3f|%n", model, b, min, max, p50(s.context(), warmup, iterations));
                }
                var arena = pe.memory().arenaOf(0);
                System.out.printf(Locale.ROOT, "profile memory: arena, input and workspace %.1f MiB in %d allocations for %d shapes (%d with their own arena); weights %.1f MiB, %d uploads, %d reuses%n",
                        arena.bytes() / 1048576.0, arena.allocations(), pe.specialisations(), arena.ownArenas(), pe.memory().weightBytes() / 1048576.0,
                        pe.memory().weightUploads(), pe.memory().weightReuses());
                System.out.printf(Locale.ROOT, "TARGET | %-58s | %s | %.3f vs %.3f ms: %+.1f%%%n", "dynamic-batch " + model + " (" + min + ".." + max + ", opt " + opt + ") within 10% of fixed b" + opt,
                        d <= 1.10 * f ? "met" : "MISSED", d, f, 100 * (d / f - 1));
            }
        }
    }

    /** {@code s} with its first dimension set to {@code b}. */
    private static Shape batch(Shape s, int b) {
        int[] d = s.dims().clone();
        d[0] = b;
        return Shape.of(d);
    }

    private static double p50(GpuExecutionContext c, int warmup, int iterations) { return GpuExecutionContext.quantile(c.time(warmup, iterations), 0.5); }
}
