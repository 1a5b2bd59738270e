package org.tessel.runtime.gpu.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaDevice;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.tuning.CalibrationReport;
import org.tessel.runtime.tuning.TimingCache;

/**
 * The optimization levels side by side. Per configuration MODEL:BATCH:PRECISION: the fixed rule,
 * then COST_MODEL, TOP_K (k=3) and ALL each with an empty (cold) timing cache, then ALL again with
 * the cache ALL filled (warm). Each engine: build seconds (standard pipeline excluded), engine
 * latency (median of 100 CUDA-graph replays after 20 warm-ups), candidates timed now / cache hits,
 * and its classifier logits against a check: the reference interpreter on the unoptimized graph at
 * batch 1, the fixed-rule engine otherwise (relative L2). Prints
 * {@code BENCH|autotune|model|batch|precision|level|build_s|p50_ms|timed|cache_hits|layers_changed|check_rel_l2}
 * per engine, then the calibration report over every tactic the cold ALL builds timed, and writes
 * {@code timing-cache.txt} and {@code calibration.csv} to the folder given by {@code -Dtessel.out}
 * (default the working directory).
 */
public final class AutotuneBench {
    private AutotuneBench() {}

    public static void main(String[] args) throws Exception {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("BENCH|no GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        TimingCache.Environment env;
        try (Cudnn cudnn = Cudnn.create()) {
            env = new TimingCache.Environment(ctx.device().name().replace('=', '-'), Integer.toString(CudaDevice.driverVersion()),
                    Map.of("cudnn", Long.toString(cudnn.version())));
        }
        System.out.println("device: " + env);
        Path out = Path.of(System.getProperty("tessel.out", "."));
        TimingCache all = new TimingCache(env);
        for (String a : args) {
            String[] f = a.split(":");
            String model = f[0];
            int batch = Integer.parseInt(f[1]);
            GpuEngine.Precision p = GpuEngine.Precision.valueOf(f[2].toUpperCase(Locale.ROOT));
            try {
                config(ctx, env, all, model, batch, p);
            } catch (RuntimeException | OutOfMemoryError e) {
                System.out.println("BENCH|autotune|" + model + "|" + batch + "|" + p + "|error|" + e.toString().replace('\n', ' '));
                e.printStackTrace(System.out);
            }
            System.out.flush();
        }
        all.save(out.resolve("timing-cache.txt"));
        System.out.println("timing cache: " + all.size() + " entries -> " + out.resolve("timing-cache.txt"));
        long t0 = System.nanoTime();
        CalibrationReport r = CalibrationReport.of(all, "h200-measured", false); // the in-sample full fit runs on the CPU from the saved cache (tessel calibrate)
        System.out.print(r.text(12));
        System.out.println("CALIBRATION|" + r.summary() + String.format(Locale.ROOT, "|report %.1f s", (System.nanoTime() - t0) / 1e9));
        r.writeCsv(out.resolve("calibration.csv"));
    }

    /** The model with its last Gemm's output (the logits) as a second graph output: the random-weight softmax saturates. */
    static Graph withLogits(String model, int batch) {
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        Value logits = null;
        for (Node n : g.nodes()) if (n.opName().equals("Gemm")) logits = n.output();
        if (logits != null && !g.outputs().contains(logits)) g.addOutput(logits);
        return g;
    }

    private static void config(CudaContext ctx, TimingCache.Environment env, TimingCache all, String model, int batch, GpuEngine.Precision p) {
        Graph reference = withLogits(model, batch);
        Graph g = reference.copy();
        new PassManager().run(g, StandardPipelines.STANDARD);
        Value in = g.inputs().get(0);
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[Math.toIntExact(in.type().numElements())];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 4 - 2);
        Tensor input = Tensor.ofFloats(DType.F32, in.type().shape(), x);
        Tensor check = null;
        String checkName;
        if (batch == 1) {
            long t0 = System.nanoTime();
            Map<String, Tensor> ref = new ReferenceInterpreter().run(reference, Map.of(reference.inputs().get(0).name(), input));
            check = ref.get(reference.outputs().get(reference.outputs().size() - 1).name());
            checkName = String.format(Locale.ROOT, "reference interpreter (%.1f s)", (System.nanoTime() - t0) / 1e9);
        } else checkName = "fixed-rule engine";
        List<String> fixedPlans = null;
        TimingCache allCache = new TimingCache(env);
        String[][] runs = {{"FIXED", "cold"}, {"COST_MODEL", "cold"}, {"TOP_K", "cold"}, {"ALL", "cold"}, {"ALL", "warm"}};
        for (String[] run : runs) {
            GpuEngine.Options o;
            TimingCache cache = run[1].equals("warm") ? allCache : run[0].equals("ALL") ? allCache : new TimingCache(env);
            o = run[0].equals("FIXED") ? GpuEngine.Options.FIXED : GpuEngine.Options.level(OptimizationLevel.valueOf(run[0]), 3, cache);
            long t0 = System.nanoTime();
            try (GpuEngine e = GpuEngine.build(g, p, ctx, o); GpuExecutionContext c = e.createExecutionContext()) {
                double buildS = (System.nanoTime() - t0) / 1e9;
                List<Tensor> outs = c.run(List.of(input));
                Tensor logits = outs.get(outs.size() - 1);
                if (check == null) check = logits;
                double err = Tensor.relativeL2(check, logits);
                c.captureGraph();
                double[] ms = c.time(20, 100);
                double p50 = GpuExecutionContext.quantile(ms, 0.5);
                List<String> plans = e.layerPlans().stream().map(l -> l.tactic()).toList();
                if (fixedPlans == null) fixedPlans = plans;
                int changed = 0;
                for (int i = 0; i < plans.size(); i++) if (!plans.get(i).replaceAll("/heuristic_0$", "").equals(fixedPlans.get(i))) changed++;
                Autotuner t = e.tuner();
                System.out.printf(Locale.ROOT, "BENCH|autotune|%s|%d|%s|%s%s|%.2f|%.4f|%d|%d|%d|%.2e%n", model, batch, p.name().toLowerCase(Locale.ROOT),
                        run[0], run[0].equals("FIXED") ? "" : " " + run[1], buildS, p50, t == null ? 0 : t.timedNow(), t == null ? 0 : t.cacheHits(), changed, err);
                if (t != null && run[0].equals("ALL") && run[1].equals("cold")) {
                    long layers = t.records().stream().map(Autotuner.Record::node).distinct().count();
                    long picks = t.records().stream().filter(Autotuner.Record::chosen).filter(x2 -> !x2.tactic().endsWith("implicit_precomp_gemm") && !x2.tactic().endsWith("heuristic_0")).count();
                    System.out.printf(Locale.ROOT, "  ALL: %d tuned layers, %d records, %d layers keep a non-default algorithm; check against %s%n", layers, t.records().size(), picks, checkName);
                }
            }
        }
        all.merge(allCache);
    }

}
