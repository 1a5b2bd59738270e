package org.tessel.runtime.calib;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * Calibration of a graph's activations: the FP32 graph runs on the reference interpreter over the
 * calibration batches, every floating activation tensor (graph inputs and node outputs) adds its
 * values to its {@link Histogram}, and a {@link Calibrator} turns each histogram into a scale,
 * amax / 127. Tensors are named as in the graph, so the scales apply to any plan made from it
 * ({@link org.tessel.tactics.plan.QuantizationTable#forPlanned}).
 */
public final class ActivationCalibration {
    private ActivationCalibration() {}

    /** Scales chosen by one calibrator, with what it took. */
    public record Result(String calibrator, Map<String, Float> scales, Map<String, Histogram> histograms, int batches, double seconds) {}

    /** The tensors calibration measures: the graph's floating inputs and node outputs, in schedule order. */
    public static List<Value> calibrated(Graph g) {
        List<Value> out = new ArrayList<>();
        for (Value v : g.inputs()) if (v.type().dtype().isFloating()) out.add(v);
        for (Node n : g.nodes()) for (Value v : n.outputs()) if (v.type().dtype().isFloating()) out.add(v);
        return out;
    }

    /**
     * Runs {@code g} in FP32 over the batches (each one tensor per graph input, in input order) and
     * returns the histogram of every {@link #calibrated} tensor. An empty list of batches is an error.
     * Uses {@link #threads} threads, fewer where their activations would not fit in a quarter of the heap.
     */
    public static Map<String, Histogram> collect(Graph g, List<List<Tensor>> batches) {
        return collect(g, batches, Math.min(threads(batches.size()), threadsByMemory(g)));
    }

    /**
     * Threads whose batches' activations fit in a quarter of the heap: a thread holds at most about
     * one batch's activations (its interpreter's live values, and values that arrive ahead of the
     * previous batch's), so a large batch of a large model runs on fewer threads rather than out of memory.
     */
    static int threadsByMemory(Graph g) {
        long bytes = 0;
        for (Value v : calibrated(g)) bytes += 4 * Math.max(0, v.type().shape().numElements());
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Runtime.getRuntime().maxMemory() / 4 / Math.max(1, bytes)));
    }

    /**
     * The system property that caps calibration's threads (default: the available processors).
     * Results do not depend on it.
     */
    public static final String THREADS_PROPERTY = "tessel.calib.threads";

    /** Threads for {@code work} independent items: {@value #THREADS_PROPERTY} or the available processors, at most {@code work}, at least 1. */
    public static int threads(int work) {
        int n = Runtime.getRuntime().availableProcessors();
        String p = System.getProperty(THREADS_PROPERTY);
        if (p != null && !p.isBlank()) {
            try {
                n = Integer.parseInt(p.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + p + ": expected a number of threads");
            }
        }
        return Math.max(1, Math.min(n, work));
    }

    /**
     * {@link #collect(Graph, List)} on {@code threads} threads. Batches run through the reference
     * interpreter concurrently (each thread takes the next batch in order), and each tensor's
     * histogram takes its batches strictly in batch order: a batch's values that arrive before the
     * previous batch's wait (by reference) until it has been added. The histograms, and so the
     * scales, are exactly those of one thread running the batches in order, whatever the thread count.
     */
    public static Map<String, Histogram> collect(Graph g, List<List<Tensor>> batches, int threads) {
        if (batches.isEmpty()) throw new IllegalArgumentException("the calibration set for '" + g.name() + "' is empty: give at least one batch");
        Map<String, Slot> slots = new LinkedHashMap<>();
        for (Value v : calibrated(g)) slots.put(v.name(), new Slot());
        materialize(g); // constants and the node order (both made lazily) are read by every thread: made here, before any starts
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            for (int b; (b = next.getAndIncrement()) < batches.size(); ) {
                final int batch = b;
                List<Tensor> in = batches.get(b);
                for (int i = 0; i < g.inputs().size(); i++) {
                    Slot s = slots.get(g.inputs().get(i).name());
                    if (s != null) s.offer(batch, floats(in.get(i)));
                }
                try {
                    new ReferenceInterpreter().withListener((n, outs, nanos) -> {
                        for (int k = 0; k < outs.size(); k++) {
                            Slot s = slots.get(n.output(k).name());
                            if (s != null) s.offer(batch, floats(outs.get(k)));
                        }
                    }).run(g, in);
                } catch (RuntimeException | Error e) {
                    next.set(batches.size()); // the other threads take no further batch (whose values would wait for this one forever)
                    throw e;
                }
            }
        };
        int n = Math.max(1, Math.min(threads, batches.size()));
        if (n == 1) {
            worker.run();
        } else {
            runAll(worker, n, "tessel-calib");
        }
        Map<String, Histogram> hs = new LinkedHashMap<>();
        for (var e : slots.entrySet()) {
            if (e.getValue().next != batches.size())
                throw new IllegalStateException("tensor %" + e.getKey() + ": " + e.getValue().next + " of " + batches.size() + " calibration batches were added");
            hs.put(e.getKey(), e.getValue().h);
        }
        return hs;
    }

    /** One tensor's histogram and the batches that arrived ahead of their turn. */
    private static final class Slot {
        final Histogram h = new Histogram();
        final Map<Integer, float[]> early = new HashMap<>();
        int next;

        synchronized void offer(int batch, float[] values) {
            if (batch != next) {
                if (early.put(batch, values) != null) throw new IllegalStateException("batch " + batch + " added twice");
                return;
            }
            h.add(values);
            next++;
            for (float[] v; (v = early.remove(next)) != null; next++) h.add(v);
        }
    }

    /** Makes every lazily made part of the graph the threads read: its constants' values and its (and its bodies') node numbering. */
    private static void materialize(Graph g) {
        for (Value c : g.constants()) c.constantValue();
        for (Node n : g.nodes()) if (n.body() != null) materialize(n.body());
    }

    /** Runs {@code task} on {@code n} threads (with the large stacks the CLI's main thread has) and rethrows the first failure. */
    static void runAll(Runnable task, int n, String name) {
        List<Thread> ts = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < n; t++) {
            Thread th = new Thread(null, () -> {
                try {
                    task.run();
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, name + "-" + t, 64L << 20);
            th.setDaemon(true);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while calibrating", e);
            }
        }
        Throwable f = failure.get();
        if (f instanceof RuntimeException r) throw r;
        if (f instanceof Error e) throw e;
        if (f != null) throw new IllegalStateException(f);
    }

    private static float[] floats(Tensor t) {
        if (t.dtype() == DType.F32 || t.dtype() == DType.F16 || t.dtype() == DType.BF16) return t.floats();
        float[] f = new float[t.size()];
        for (int i = 0; i < f.length; i++) f[i] = t.getFloat(i);
        return f;
    }

    /**
     * The scale of every histogram by {@code c}. A tensor whose values were all 0 gets scale 1/127
     * (any scale codes 0 exactly) and a warning naming it; so does one with non-finite values (left out).
     */
    public static Map<String, Float> scales(Map<String, Histogram> hs, Calibrator c, Consumer<String> warn) {
        return scales(hs, c, org.tessel.cost.Precision.INT8, warn);
    }

    /**
     * As above for a quantized precision: scale = threshold / {@link org.tessel.cost.Precision#quantizedMax()}
     * (127 for INT8, 448 for FP8, whose E4M3 codes reach 448); the calibrator's threshold is the same but for mse,
     * which measures its error on the format's grid ({@link Calibrator#amax(Histogram, org.tessel.cost.Precision)}).
     */
    public static Map<String, Float> scales(Map<String, Histogram> hs, Calibrator c, org.tessel.cost.Precision format, Consumer<String> warn) {
        double max = format.quantizedMax();
        // the thresholds are independent: chosen on several threads, then reported in order
        List<String> names = new ArrayList<>(hs.keySet());
        List<Histogram> list = new ArrayList<>(hs.values());
        double[] amax = new double[list.size()];
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            for (int i; (i = next.getAndIncrement()) < amax.length; ) amax[i] = c.amax(list.get(i), format);
        };
        int n = threads(list.size());
        if (n == 1) worker.run();
        else runAll(worker, n, "tessel-calib-scales");
        Map<String, Float> out = new LinkedHashMap<>();
        for (int i = 0; i < amax.length; i++) {
            String name = names.get(i);
            Histogram h = list.get(i);
            if (h.nonFinite() > 0)
                warn.accept(String.format(Locale.ROOT, "tensor %%%s: %d non-finite calibration values (NaN or infinity), left out of its range", name, h.nonFinite()));
            double a = amax[i];
            if (!(a > 0)) {
                warn.accept("tensor %" + name + ": every calibration value is 0 (zero range); its scale is set to 1/" + (int) max);
                a = 1;
            }
            out.put(name, (float) (a / max));
        }
        return out;
    }

    /** Collects and chooses INT8 scales in one go. */
    public static Result calibrate(Graph g, List<List<Tensor>> batches, Calibrator c, Consumer<String> warn) {
        return calibrate(g, batches, c, org.tessel.cost.Precision.INT8, warn);
    }

    /** Collects and chooses the scales of a quantized precision (INT8 or FP8) in one go. */
    public static Result calibrate(Graph g, List<List<Tensor>> batches, Calibrator c, org.tessel.cost.Precision format, Consumer<String> warn) {
        long t0 = System.nanoTime();
        Map<String, Histogram> hs = collect(g, batches);
        Map<String, Float> s = scales(hs, c, format, warn);
        return new Result(c.name(), s, hs, batches.size(), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * A fingerprint of the graph calibration measures: SHA-256 over its name and every calibrated
     * tensor's name, element type and shape without its leading (batch) dimension, in order (hex,
     * first 16 bytes). Another model, or the same one at another input size, has another
     * fingerprint; the same one at another batch size has the same (scales are per tensor, as
     * TensorRT's calibration caches are independent of the engine's batch size).
     */
    public static String fingerprint(Graph g) {
        StringBuilder sb = new StringBuilder(g.name()).append('\n');
        for (Value v : calibrated(g)) {
            int[] d = v.type().shape().dims();
            sb.append(v.name()).append(' ').append(v.type().dtype().text()).append(java.util.Arrays.toString(d.length == 0 ? d : java.util.Arrays.copyOfRange(d, 1, d.length))).append('\n');
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
