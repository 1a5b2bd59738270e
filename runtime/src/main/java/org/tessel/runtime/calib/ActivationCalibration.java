package org.tessel.runtime.calib;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
     */
    public static Map<String, Histogram> collect(Graph g, List<List<Tensor>> batches) {
        if (batches.isEmpty()) throw new IllegalArgumentException("the calibration set for '" + g.name() + "' is empty: give at least one batch");
        Map<String, Histogram> hs = new LinkedHashMap<>();
        for (Value v : calibrated(g)) hs.put(v.name(), new Histogram());
        ReferenceInterpreter interp = new ReferenceInterpreter().withListener((n, outs, nanos) -> {
            for (int k = 0; k < outs.size(); k++) {
                Histogram h = hs.get(n.output(k).name());
                if (h != null) h.add(floats(outs.get(k)));
            }
        });
        for (List<Tensor> batch : batches) {
            for (int i = 0; i < g.inputs().size(); i++) {
                Histogram h = hs.get(g.inputs().get(i).name());
                if (h != null) h.add(floats(batch.get(i)));
            }
            interp.run(g, batch);
        }
        return hs;
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
        Map<String, Float> out = new LinkedHashMap<>();
        for (var e : hs.entrySet()) {
            Histogram h = e.getValue();
            if (h.nonFinite() > 0)
                warn.accept(String.format(Locale.ROOT, "tensor %%%s: %d non-finite calibration values (NaN or infinity), left out of its range", e.getKey(), h.nonFinite()));
            double amax = c.amax(h);
            if (!(amax > 0)) {
                warn.accept("tensor %" + e.getKey() + ": every calibration value is 0 (zero range); its scale is set to 1/127");
                amax = 1;
            }
            out.put(e.getKey(), (float) (amax / 127));
        }
        return out;
    }

    /** Collects and chooses scales in one go. */
    public static Result calibrate(Graph g, List<List<Tensor>> batches, Calibrator c, Consumer<String> warn) {
        long t0 = System.nanoTime();
        Map<String, Histogram> hs = collect(g, batches);
        Map<String, Float> s = scales(hs, c, warn);
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
