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
 * Arguments: configurations MODEL:BATCH:PRECISION (e.g. resnet50:32:FP16). Each is built twice,
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
                GpuEngine.Options tuned = new GpuEngine.Options(true, Integer.getInteger("tessel.bench.candidates", 3),
                        Long.getLong("tessel.bench.workspaceMiB", 1024L) << 20, cache);
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

    static Result run(CudaContext ctx, String model, int batch, GpuEngine.Precision p, GpuEngine.Options options) {
        long t0 = System.nanoTime();
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        // -Dtessel.bench.pipeline=standard: the standard pipeline for every precision (NHWC FP32 too, the earlier behaviour)
        new PassManager().run(g, "standard".equals(System.getProperty("tessel.bench.pipeline")) ? StandardPipelines.STANDARD : GpuEngine.pipeline(p, g));
        List<Tensor> inputs = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(1);
        for (Value v : g.inputs()) {
            if (v.type().dtype() != DType.F32) throw new IllegalArgumentException(model + " input %" + v.name() + " is " + v.type().dtype().text());
            float[] x = new float[Math.toIntExact(v.type().numElements())];
            for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
            inputs.add(Tensor.ofFloats(DType.F32, v.type().shape(), x));
        }
        try (GpuEngine e = GpuEngine.build(g, p, ctx, options); GpuExecutionContext c = e.createExecutionContext()) {
            double buildS = (System.nanoTime() - t0) / 1e9;
            List<Tensor> out = c.run(inputs);
            for (Tensor t : out)
                for (int i = 0; i < t.size(); i++)
                    if (!Float.isFinite(t.getFloat(i))) throw new IllegalStateException(model + " output has a non-finite value at " + i);
            int top = Integer.getInteger("tessel.bench.profile", 0);
            if (top > 0) for (String line : LayerProfiler.report(model + "|" + batch + "|" + p.name().toLowerCase(Locale.ROOT) + (options.tuneConvolutions() ? "|tuned" : "|fixed"),
                    LayerProfiler.profile(e, c, 5), top)) System.out.println(line);
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
