package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.Backend;
import java.util.Map;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaDevice;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.tuning.TimingCache;

/**
 * Times whole-model GPU engines the way the PyTorch peer (benchmarks/peers/torch_peer.py) times
 * torch: per configuration, build (standard pipeline + engine), one checked run, CUDA-graph
 * capture, 20 warm-up replays, then 100 replays each between two CUDA events; median and p99.
 * Arguments: configurations MODEL:BATCH:PRECISION (e.g. resnet50:32:FP16, bert-base:32:FP16 at the zoo's
 * sequence 128; integer inputs get token ids in range and a mask with zeros, see {@link #inputs}). Each is built twice,
 * with the fixed kernel rule and with convolution algorithms tuned ({@link GpuEngine.Options#tuned}),
 * printing {@code BENCH|model|batch|precision|p50_ms|p99_ms|mean_ms|layers|arena_mib|build_s|fixed_p50_ms}
 * (the tuned engine's figures, the fixed rule's median last), or {@code BENCH|model|batch|precision|error|...}
 * when a configuration fails (the others still run). With {@code -Dtessel.timingCache=FILE} the
 * tuning measurements are saved there.
 */
public final class GpuEngineBench {
    private GpuEngineBench() {}

    static final int WARMUP = 20, ITERATIONS = 100;

    public static void main(String[] args) {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("BENCH|no GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        TimingCache cache;
        try (Cudnn cudnn = Cudnn.create()) {
            cache = new TimingCache(new TimingCache.Environment(ctx.device().name().replace('=', '-'), Integer.toString(CudaDevice.driverVersion()),
                    Map.of("cudnn", Long.toString(cudnn.version()))));
        }
        for (String a : args) {
            String[] f = a.split(":");
            if (f.length != 3) throw new IllegalArgumentException("configuration '" + a + "' must be MODEL:BATCH:PRECISION, e.g. resnet50:32:FP16");
            String model = f[0];
            int batch = Integer.parseInt(f[1]);
            GpuEngine.Precision p = GpuEngine.Precision.valueOf(f[2].toUpperCase(Locale.ROOT));
            try {
                // -Dtessel.bench.fixed=false skips the fixed-rule engine; -Dtessel.bench.candidates / .workspaceMiB widen the tuning
                double fixed = Boolean.parseBoolean(System.getProperty("tessel.bench.fixed", "true")) ? run(ctx, model, batch, p, GpuEngine.Options.FIXED).p50 : Double.NaN;
                GpuEngine.Options tuned = new GpuEngine.Options(OptimizationLevel.TOP_K, Integer.getInteger("tessel.bench.candidates", 3),
                        Long.getLong("tessel.bench.workspaceMiB", 1024L) << 20, cache, "h200-measured");
                System.out.println(run(ctx, model, batch, p, tuned).line + String.format(Locale.ROOT, "|%.4f", fixed));
            } catch (RuntimeException | OutOfMemoryError e) {
                System.out.println("BENCH|" + model + "|" + batch + "|" + p.name().toLowerCase(Locale.ROOT) + "|error|" + e.toString().replace('\n', ' '));
            }
            System.out.flush();
        }
        String file = System.getProperty("tessel.timingCache");
        if (file != null) {
            try {
                cache.save(java.nio.file.Path.of(file));
                System.out.println("timing cache: " + cache.size() + " entries in " + file);
            } catch (java.io.IOException e) {
                System.out.println("timing cache not saved to " + file + ": " + e);
            }
        }
    }

    record Result(String line, double p50) {}

    /**
     * Seeded inputs for a zoo graph: f32 inputs uniform in [lo, hi); integer inputs named like a
     * mask get ones with the last eighth (more for later batch rows) of each row zero; other integer
     * inputs (token ids) uniform over the rows of the Gather table they index.
     */
    static List<Tensor> inputs(Graph g, SplittableRandom r, double lo, double hi) {
        List<Tensor> inputs = new ArrayList<>();
        for (Value v : g.inputs()) {
            org.tessel.api.Shape s = v.type().shape();
            int n = Math.toIntExact(v.type().numElements());
            if (v.type().dtype() == DType.F32) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (float) (lo + r.nextDouble() * (hi - lo));
                inputs.add(Tensor.ofFloats(DType.F32, s, x));
                continue;
            }
            if (!v.type().dtype().isInteger()) throw new IllegalArgumentException("input %" + v.name() + " is " + v.type().dtype().text());
            long[] x = new long[n];
            int cols = s.rank() == 0 ? 1 : s.dim(s.rank() - 1);
            if (v.name().contains("mask")) {
                for (int i = 0; i < n; i++) {
                    int row = i / cols, col = i % cols;
                    x[i] = col >= cols - Math.max(1, cols / 8) * (1 + row % 3) ? 0 : 1;
                }
            } else {
                long vocab = 0;
                for (org.tessel.ir.Node u : g.users(v))
                    if (u.opName().equals("Gather") && u.input(1) == v) vocab = u.input(0).type().shape().dim((int) u.attrs().getInt("axis", 0));
                if (vocab <= 0) throw new IllegalArgumentException("integer input %" + v.name() + " indexes no Gather; no range for random values");
                for (int i = 0; i < n; i++) x[i] = r.nextLong(vocab);
            }
            inputs.add(Tensor.ofLongs(v.type().dtype(), s, x));
        }
        return inputs;
    }

    static Result run(CudaContext ctx, String model, int batch, GpuEngine.Precision p, GpuEngine.Options options) {
        long t0 = System.nanoTime();
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        // -Dtessel.bench.pipeline=standard: the standard pipeline for every precision (NHWC FP32 too, the earlier behaviour)
        new PassManager().run(g, "standard".equals(System.getProperty("tessel.bench.pipeline")) ? StandardPipelines.STANDARD : GpuEngine.pipeline(p, g));
        List<Tensor> inputs = inputs(g, new SplittableRandom(1), -1, 1);
        try (GpuEngine e = GpuEngine.build(g, p, ctx, options); GpuExecutionContext c = e.createExecutionContext()) {
            double buildS = (System.nanoTime() - t0) / 1e9;
            List<Tensor> out = c.run(inputs);
            for (Tensor t : out)
                for (int i = 0; i < t.size(); i++)
                    if (!Float.isFinite(t.getFloat(i))) throw new IllegalStateException(model + " output has a non-finite value at " + i);
            if (e.tuner() != null)
                for (Autotuner.Record r : e.tuner().records())
                    if (r.tactic().startsWith(GpuTactics.CONV_STEM + "/"))
                        System.out.println(String.format(Locale.ROOT, "STEM|%s|%d|%s|%s|%s|%.1f us|%s%s", model, batch, p.name().toLowerCase(Locale.ROOT), r.node(), r.tactic(),
                                r.measuredUs(), r.chosen() ? "chosen" : "-", r.cached() ? "|cached" : ""));
            int top = Integer.getInteger("tessel.bench.profile", 0);
            if (top > 0) {
                String what = model + "|" + batch + "|" + p.name().toLowerCase(Locale.ROOT) + (options.tuneConvolutions() ? "|tuned" : "|fixed");
                List<LayerProfiler.Entry> prof = LayerProfiler.profile(e, c, 5);
                for (String line : LayerProfiler.report(what, prof, top)) System.out.println(line);
                // the stem (and the reformat it absorbed) whether or not among the slowest
                for (LayerProfiler.Entry x : prof)
                    if (x.plan().tactic().startsWith(GpuTactics.CONV_STEM + "/") || x.index() < 2)
                        System.out.println(String.format(Locale.ROOT, "PROFILE|%s|stem #%d %s|%s|%.4f ms", what, x.index(), x.plan().node(), x.plan().tactic(), x.ms()));
            }
            c.captureGraph();
            double[] ms = c.time(WARMUP, ITERATIONS);
            double mean = 0;
            for (double m : ms) mean += m / ms.length;
            double p50 = GpuExecutionContext.quantile(ms, 0.5);
            return new Result(String.format(Locale.ROOT, "BENCH|%s|%d|%s|%.4f|%.4f|%.4f|%d|%.1f|%.1f", model, batch, p.name().toLowerCase(Locale.ROOT),
                    p50, GpuExecutionContext.quantile(ms, 0.99), mean, e.layerPlans().size(), e.arenaBytes() / 1048576.0, buildS), p50);
        }
    }
}
