package org.tessel.runtime.llm.quant;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;

/**
 * What calibration measures of the activation each linear-layer group reads, over token sequences run
 * through the FP32 decoder on the reference interpreter: per input channel the mean and the largest
 * |x|, and up to {@code maxRows} rows of X (the first rows of each sequence in turn) for AWQ's error search.
 *
 * @param groups the groups by the name of the activation they read
 */
public record ActivationStats(Map<String, GroupStats> groups) {
    /** One group's measurements; rows are [rows][K]. */
    public record GroupStats(ChannelScaling.Group group, float[] meanAbs, float[] maxAbs, float[][] rows) {}

    /**
     * Runs {@code prefill} (a decoder graph of batch 1 whose new-token count is each sequence's length,
     * no past) on every sequence and gathers the statistics of every group's activation.
     */
    public static ActivationStats collect(Graph prefill, long[][] sequences, int maxRows) {
        List<ChannelScaling.Group> groups = ChannelScaling.groups(prefill);
        Map<Value, ChannelScaling.Group> byActivation = new HashMap<>();
        for (ChannelScaling.Group g : groups) byActivation.put(g.activation(), g);
        Map<Value, double[]> sums = new HashMap<>();
        Map<Value, float[]> max = new HashMap<>();
        Map<Value, List<float[]>> rows = new HashMap<>();
        ReferenceInterpreter interp = new ReferenceInterpreter().withListener((n, outs, nanos) -> {
            for (int o = 0; o < outs.size(); o++) {
                ChannelScaling.Group g = byActivation.get(n.output(o));
                if (g == null) continue;
                int k = g.k();
                float[] x = outs.get(o).floats();
                double[] s = sums.computeIfAbsent(n.output(o), v -> new double[k]);
                float[] mx = max.computeIfAbsent(n.output(o), v -> new float[k]);
                List<float[]> rs = rows.computeIfAbsent(n.output(o), v -> new ArrayList<>());
                for (int r = 0; r < x.length / k; r++) {
                    for (int j = 0; j < k; j++) {
                        float a = Math.abs(x[r * k + j]);
                        s[j] += a;
                        mx[j] = Math.max(mx[j], a);
                    }
                    if (rs.size() < maxRows) rs.add(java.util.Arrays.copyOfRange(x, r * k, (r + 1) * k));
                }
            }
        });
        int len = prefill.value("input_ids").type().shape().dim(1);
        long tokens = 0;
        for (long[] seq : sequences) {
            if (seq.length != len) throw new IllegalArgumentException("calibration sequence of " + seq.length + " tokens for a graph of " + len);
            long[] mask = new long[len], pos = new long[len];
            for (int i = 0; i < len; i++) { mask[i] = 1; pos[i] = i; }
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("input_ids", Tensor.ofLongs(DType.I64, Shape.of(1, len), seq));
            in.put("attention_mask", Tensor.ofLongs(DType.I64, Shape.of(1, len), mask));
            in.put("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, len), pos));
            interp.run(prefill, in);
            tokens += len;
        }
        Map<String, GroupStats> out = new LinkedHashMap<>();
        for (ChannelScaling.Group g : groups) {
            double[] s = sums.get(g.activation());
            if (s == null) continue;
            float[] mean = new float[s.length];
            for (int j = 0; j < s.length; j++) mean[j] = (float) (s[j] / tokens);
            out.put(g.activation().name(), new GroupStats(g, mean, max.get(g.activation()), rows.get(g.activation()).toArray(new float[0][])));
        }
        return new ActivationStats(out);
    }
}
