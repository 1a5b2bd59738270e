package org.tessel.cli;

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
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Runs a saved engine on seeded random inputs and reports latency percentiles and throughput. */
@Command(name = "run", description = "Run an engine on random inputs; ends with 'p50_ms=... p99_ms=... throughput=.../s'. "
        + "GPU engines run as one CUDA-graph replay per inference, timed with CUDA events.")
final class RunCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "An engine file made by `tessel build`.") Path file;
    @Option(names = "--batch", converter = Ranges.AtLeastOne.class, description = "Expected batch size (engines are built for one batch size; a different one is refused).") Integer batch;
    @Option(names = "--iterations", converter = Ranges.Runs.class, defaultValue = "20", description = "Timed runs (default ${DEFAULT-VALUE}).") int iterations;
    @Option(names = "--warmup", converter = Ranges.WarmupRuns.class, defaultValue = "3", description = "Untimed runs first (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--layer-info", description = "Write per-layer tactic, precision, layout and time as JSON to this file.") Path layerInfo;

    @Override public Integer call() throws Exception {
        if (layerInfo != null) AtomicFiles.checkWritable(layerInfo);
        String backend = EngineFile.backendOf(file);
        if (backend.equals(GpuEngine.BACKEND)) return runGpu();
        Engine e = Engine.load(file, EngineHeader.Machine.cpu());
        List<Tensor> inputs = OptimizeCommand.randomInputs(e.graph());
        int engineBatch = checkBatch(e.graph());
        ExecutionContext ctx = e.createContext().profiling(layerInfo != null);
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
        System.out.printf("%s: backend %s, batch %d, %d iterations after %d warm-up%n", file, e.header().backend(), engineBatch, iterations, warmup);
        report(ms, engineBatch);
        return 0;
    }

    private int runGpu() throws Exception {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu))
            throw new IllegalArgumentException(file + " is a GPU engine, and this machine has no usable GPU (" + b.describe() + "); build a CPU engine here with `tessel build ... --cpu`");
        long t0 = System.nanoTime();
        try (GpuEngine e = GpuEngine.load(file, gpu.context())) {
            double loadS = (System.nanoTime() - t0) / 1e9;
            int engineBatch = checkBatch(e.graph());
            List<Tensor> inputs = OptimizeCommand.randomInputs(e.graph());
            try (GpuExecutionContext ctx = e.createExecutionContext()) {
                ctx.run(inputs);
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
                        file, gpu.context().device().name(), e.precision(), engineBatch, loadS, e.kernelsFromFile(), iterations, warmup);
                report(ms, engineBatch);
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
