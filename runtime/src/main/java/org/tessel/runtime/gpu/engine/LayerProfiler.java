package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.engine.LayerPlan;

/**
 * Per-layer device times of a GPU engine, as the engine's graph replay sees them: each layer is captured alone, {@link #COPIES}
 * times back to back, into a CUDA graph of its own, and the graph replayed between two CUDA events; a layer's time is the
 * median replay over {@code runs}, divided by the copies (a replay's own launch is spread over them). Enqueued eagerly
 * between events instead, a layer's time held the host's cost of issuing it whenever that exceeds the GPU's (an H100
 * profiled ResNet-50 b1's cuDNN 1x1 convolutions at about 170 us each, 7.0 ms in all, against a 0.34 ms replay): a layer
 * that cannot be captured (one that synchronizes with the host) keeps that eager figure, an upper bound, and so do all
 * layers of a guarded engine. Layers are timed on one stream, even for a multi-stream engine; the buffers hold no
 * meaningful values afterwards (a layer run twice over its own output), so a run after profiling recomputes from its inputs.
 */
public final class LayerProfiler {
    private LayerProfiler() {}

    /** One layer's median time (ms). */
    public record Entry(int index, LayerPlan plan, double ms) {}

    public static List<Entry> profile(GpuEngine e, GpuExecutionContext c, int runs) {
        if (c.isCaptured()) throw new GpuEngineException("profile before captureGraph(): a replayed graph has no per-layer events");
        e.context().bind();
        List<Layer> layers = c.layers();
        CudaStream s = c.stream();
        int n = layers.size();
        c.waitForPendingWork();
        double[] replayed = new double[n];
        boolean anyEager = false;
        for (int i = 0; i < n; i++) {
            replayed[i] = e.guarded() ? Double.NaN : replayed(layers.get(i), s, runs);
            anyEager |= Double.isNaN(replayed[i]);
        }
        double[] eager = anyEager ? eager(layers, s, runs) : null;
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Entry(i, layers.get(i).plan(), Double.isNaN(replayed[i]) ? eager[i] : replayed[i]));
        return out;
    }

    /** Copies of a layer captured into its graph: enough to spread a replay's launch, few enough to capture fast. */
    static final int COPIES = 10;

    /** The layer's median time (ms) per copy in a graph of {@link #COPIES} copies; NaN when it cannot be captured. */
    private static double replayed(Layer l, CudaStream s, int runs) {
        try {
            return GpuExecutionContext.quantile(GpuExecutionContext.perCopyMs(s, () -> l.enqueue(s), COPIES, 1, Math.max(1, runs)), 0.5);
        } catch (RuntimeException cannot) {
            s.synchronize();
            return Double.NaN;
        }
    }

    /**
     * Each layer's median time (ms) enqueued eagerly between CUDA events, one untimed run queued ahead so the GPU stays
     * ahead of the host where it can: an upper bound wherever issuing a layer costs the host more than it costs the GPU.
     */
    private static double[] eager(List<Layer> layers, CudaStream s, int runs) {
        int n = layers.size();
        CudaEvent[] ev = new CudaEvent[n + 1];
        double[][] ms = new double[n][runs];
        try {
            for (int i = 0; i <= n; i++) ev[i] = new CudaEvent();
            for (int r = 0; r < runs; r++) {
                for (Layer l : layers) l.enqueue(s); // keeps the GPU busy while the timed run is queued
                for (int i = 0; i < n; i++) {
                    ev[i].record(s);
                    layers.get(i).enqueue(s);
                }
                ev[n].record(s);
                ev[n].synchronize();
                for (int i = 0; i < n; i++) ms[i][r] = ev[i + 1].elapsedSince(ev[i]);
            }
        } finally {
            for (CudaEvent x : ev) if (x != null) x.close();
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = GpuExecutionContext.quantile(ms[i], 0.5);
        return out;
    }

    /** The {@code top} slowest layers as {@code PROFILE|...} lines, with the total and each layer's share. */
    public static List<String> report(String what, List<Entry> entries, int top) {
        double total = entries.stream().mapToDouble(Entry::ms).sum();
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "PROFILE|%s|total %.4f ms over %d layers", what, total, entries.size()));
        entries.stream().sorted(Comparator.comparingDouble(Entry::ms).reversed()).limit(top).forEach(x ->
                lines.add(String.format(Locale.ROOT, "PROFILE|%s|#%d %s|%s|%s|%.4f ms|%.1f%%", what, x.index(), x.plan().node(), x.plan().tactic(),
                        x.plan().layout(), x.ms(), 100 * x.ms() / total)));
        return lines;
    }
}
