package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.engine.LayerPlan;

/**
 * Per-layer device times of a GPU engine: the layers enqueued eagerly (never the captured graph)
 * with a CUDA event between every two layers; one untimed run is queued first so the GPU stays
 * ahead of the host (the host's ~10-50 us per call would otherwise show up as layer time when layers
 * are short). Median per layer over {@code runs} runs. Sums near the replay time at large batches;
 * at batch 1 the host dominates and the figures are upper bounds.
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
        CudaEvent[] ev = new CudaEvent[n + 1];
        double[][] ms = new double[n][runs];
        try {
            for (int i = 0; i <= n; i++) ev[i] = new CudaEvent();
            c.waitForPendingWork();
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
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new Entry(i, layers.get(i).plan(), GpuExecutionContext.quantile(ms[i], 0.5)));
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
