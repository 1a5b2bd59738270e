package org.tessel.runtime.llm.quant;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.DecoderWeights;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.quant.QuantizeWeights;

/**
 * A decoder's quantization recipe, calibrated once and applied to each step shape's graph
 * ({@link org.tessel.runtime.llm.DecoderRunner} builds one graph per shape; every form has the same
 * weight names, so the recipe is keyed by them). Calibration runs the FP32 prefill graph on the
 * reference interpreter over token sequences; {@link #apply} then scales channels (AWQ or
 * SmoothQuant) and quantizes: the {@code quantize-weights} pass for weight-only, {@link SmoothQuant#rewrite} for W8A8.
 * The LM head stays floating.
 */
public final class LlmQuantization {
    /** Scales are stored as f16, as the GPU kernels read them. */
    public static final DType SCALE_TYPE = DType.F16;
    /** Rows of each activation AWQ's search measures the output error on. */
    public static final int AWQ_ROWS = 512;

    private final QuantizationSpec spec;
    private final Map<String, float[]> channelScales;
    private final Map<String, Float> activationScales;
    private final List<String> notes;

    private LlmQuantization(QuantizationSpec spec, Map<String, float[]> channelScales, Map<String, Float> activationScales, List<String> notes) {
        this.spec = spec;
        this.channelScales = Map.copyOf(channelScales);
        this.activationScales = Map.copyOf(activationScales);
        this.notes = List.copyOf(notes);
    }

    public QuantizationSpec spec() { return spec; }
    /** Per weight name, the input-channel scales AWQ or SmoothQuant chose (empty for plain RTN). */
    public Map<String, float[]> channelScales() { return channelScales; }
    /** What calibration chose, one line per group (AWQ's alpha and errors, SmoothQuant's scales). */
    public List<String> notes() { return notes; }

    /** The recipe of a spec that needs no calibration (FP32, plain weight-only). */
    public static LlmQuantization uncalibrated(QuantizationSpec spec) {
        if (spec.awq() || spec.smoothQuant()) throw new IllegalArgumentException(spec.label() + " needs calibration sequences");
        return new LlmQuantization(spec, Map.of(), Map.of(), List.of());
    }

    /**
     * Calibrates {@code spec} for a zoo decoder on {@code sequences} (all of one length): AWQ's scale
     * search or SmoothQuant's factors and activation scales. FP32 and plain weight-only need none.
     */
    public static LlmQuantization calibrate(String model, DecoderConfig config, long seed, QuantizationSpec spec, long[][] sequences) {
        return calibrate(model, config, seed, null, spec, sequences, true);
    }

    /** As above for a decoder of trained weights (null: drawn from the seed). */
    public static LlmQuantization calibrate(String model, DecoderConfig config, long seed, DecoderWeights weights, QuantizationSpec spec, long[][] sequences) {
        return calibrate(model, config, seed, weights, spec, sequences, true);
    }

    /** As above; {@code smooth} false gives W8A8 without SmoothQuant's migration (the baseline it improves on). */
    static LlmQuantization calibrate(String model, DecoderConfig config, long seed, QuantizationSpec spec, long[][] sequences, boolean smooth) {
        return calibrate(model, config, seed, null, spec, sequences, smooth);
    }

    private static LlmQuantization calibrate(String model, DecoderConfig config, long seed, DecoderWeights weights, QuantizationSpec spec, long[][] sequences, boolean smooth) {
        if (!spec.awq() && !spec.smoothQuant()) return uncalibrated(spec);
        Graph prefill = Zoo.buildDecoder(model, config, new DecoderShape(1, sequences[0].length, 0), seed, weights);
        ActivationStats stats = ActivationStats.collect(prefill, sequences, AWQ_ROWS);
        Map<String, float[]> scales = new LinkedHashMap<>();
        Map<String, Float> act = new LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        for (ActivationStats.GroupStats st : stats.groups().values()) {
            ChannelScaling.Group g = st.group();
            String names = String.join(", ", g.weightNames());
            if (spec.awq()) {
                if (spec.format().whyNot(g.k()) != null) {
                    notes.add("awq: " + names + ": not quantized (" + spec.format().whyNot(g.k()) + ")");
                    continue;
                }
                Awq.Choice c = Awq.search(st, spec.format(), SCALE_TYPE);
                for (String w : g.weightNames()) scales.put(w, c.scales());
                notes.add(String.format("awq: %s: alpha %.1f, calibration output error %.4g (round-to-nearest %.4g, %.1f%% less)", names, c.alpha(), c.error(), c.rtnError(),
                        c.rtnError() > 0 ? 100 * (1 - c.error() / c.rtnError()) : 0.0));
            } else {
                boolean foldable = smooth && g.foldTarget(prefill) != null;
                float[] s = foldable ? SmoothQuant.factors(st, spec.alpha()) : null;
                if (s != null) for (String w : g.weightNames()) scales.put(w, s);
                float sa = SmoothQuant.activationScale(st.maxAbs(), s);
                for (String w : g.weightNames()) act.put(w, sa);
                notes.add(String.format("smoothquant: %s: %s, activation amax %.4g -> %.4g", names, foldable ? "smoothed into " + g.activation().producer().name() : smooth ? "not smoothed (no norm to fold into)" : "not smoothed",
                        SmoothQuant.activationScale(st.maxAbs(), null) * 127, sa * 127));
            }
        }
        return new LlmQuantization(spec, scales, act, notes);
    }

    /** Quantizes one graph of the decoder as the recipe says (in place), before the standard pipeline. */
    public void apply(Graph g) {
        if (spec.isFp32()) return;
        ChannelScaling.apply(g, channelScales);
        if (spec.smoothQuant()) {
            SmoothQuant.rewrite(g, activationScales);
            return;
        }
        var f = spec.format();
        new PassManager().run(g, "quantize-weights{bits=" + f.bits() + ",group-size=" + f.groupSize() + ",symmetric=" + f.symmetric()
                + ",scale-type=" + SCALE_TYPE.text() + "}");
    }

    /** Bytes of the graph's constants by their types (weights, scales, codes; nothing is made). */
    public static long weightBytes(Graph g) { return QuantizeWeights.constantBytes(g); }
}
