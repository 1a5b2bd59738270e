package org.tessel.runtime.tuning;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.tessel.api.Layout;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.conv.ConvTactics;
import org.tessel.runtime.gpu.engine.GpuTactics;
import java.util.stream.Collectors;

/**
 * The cost model's prediction for a timed (signature, tactic) pair: what the auto-tuner ranks
 * candidates by and what the calibration report compares with the measurement. The node comes
 * from the signature ({@link SignatureNodes}), so the builder and a report from a cache file
 * predict through the same code.
 *
 * <p>Timed tactic ids are {@code CATALOGUE_ID/VARIANT}: the catalogue tactic the model prices, then
 * the library's algorithm. How each is predicted:
 * <ul>
 *   <li>{@code cudnn.conv.fused_bias_act/cudnn.conv.ALGO} on a fused conv_bias_act node: the fused
 *       tactic's cost, times the ratio of ALGO's model ({@link ConvTactics#algorithmModels()}: the
 *       algorithms are variants of the fused tactic, not catalogue tactics) to {@code cudnn.conv.implicit_precomp_gemm}
 *       on the bare convolution (the algorithm's efficiency, tiles and transforms; the fused epilogue's
 *       savings are the fused tactic's). On a plain Conv (cuDNN's fused call with the identity), ALGO's
 *       own model. Either way the catalogue tactic is {@code cudnn.conv.fused_bias_act}.
 *       cuDNN algorithms without a model (GEMM, DIRECT, FFT, FFT_TILING) and
 *       algorithms the catalogue refuses for the shape (Winograd on a 1x1) have no prediction (NaN):
 *       they rank after predicted ones, and the report counts but does not score them.</li>
 *   <li>{@code cublaslt.gemm/heuristic_I}: cuBLASLt's I-th heuristic algorithm, priced as {@code cublaslt.gemm}.
 *       The catalogue has one cuBLASLt tactic, so every algorithm of a GEMM gets the same prediction
 *       and the heuristic's order breaks the tie.</li>
 * </ul>
 * Predictions assume CUDA-graph launches (the tuner times graphs of repeated calls).
 */
public final class TacticPredictor {
    /** The engine's fused convolution call. */
    public static final String CONV_FUSED = GpuTactics.CONV_FUSED;
    public static final String GEMM = GpuTactics.GEMM;
    /** The cuDNN algorithm models, by algorithm id. */
    static final Map<String, Tactic> ALGORITHMS = ConvTactics.algorithmModels().stream().collect(Collectors.toUnmodifiableMap(Tactic::id, t -> t));
    static final String PRECOMP = "cudnn.conv.implicit_precomp_gemm";
    /** cuDNN algorithm tactic ids priced by another catalogue tactic (WINOGRAD_NONFUSED: the catalogue's Winograd is the non-fused one). */
    static final Map<String, String> ALIASES = Map.of("cudnn.conv.winograd_nonfused", "cudnn.conv.winograd");
    static final Set<String> UNPRICED_ALGOS = Set.of("cudnn.conv.gemm", "cudnn.conv.direct", "cudnn.conv.fft", "cudnn.conv.fft_tiling");

    private final TacticCatalog catalog;
    /** A signature's node, precision and layout, parsed once. */
    private record Keyed(Node node, Precision precision, Layout layout) {}
    private final Map<String, Keyed> nodes = new ConcurrentHashMap<>();

    public TacticPredictor(TacticCatalog catalog) { this.catalog = catalog; }

    public static TacticPredictor builtin() { return new TacticPredictor(TacticCatalog.builtin()); }

    /** The model a target name gives: h200-measured comes with the parameters fitted on the project's H200. */
    public static CostModel model(String target) {
        DeviceSpec d = DeviceSpec.byName(target);
        return target.trim().equalsIgnoreCase("h200-measured") ? new CostModel(d, CostModel.Params.h200Fitted()) : new CostModel(d);
    }

    private Keyed keyed(String signature) {
        return nodes.computeIfAbsent(signature, s -> new Keyed(SignatureNodes.rebuild(s), Precision.valueOf(SignatureNodes.precision(s)), SignatureNodes.layout(s)));
    }

    /** The node a signature describes (rebuilt once). */
    public Node node(String signature) { return keyed(signature).node(); }

    /**
     * The catalogue tactic a timed tactic is priced as on this node (what a search plan would name):
     * the part before '/', when the catalogue has it; null when it does not.
     */
    public String catalogueId(String signature, String timedTactic) {
        String family = GpuTactics.catalogueId(timedTactic);
        node(signature); // a signature that does not parse fails here, naming it
        if (family.equals(CONV_FUSED)) return convTactic(signature).id();
        return catalog.has(family) ? family : null;
    }

    /**
     * The catalogue tactic whose layer ran a timed cuDNN algorithm: the fused call, or on a few-channel
     * f16 NHWC convolution the stem tactic (the engine pads the input, then makes the same cuDNN call).
     */
    private Tactic convTactic(String signature) {
        Keyed k = keyed(signature);
        Layout lay = NodeFacts.layoutMatters(k.node()) ? k.layout() : Layout.ANY;
        Tactic fused = catalog.byId(CONV_FUSED);
        if (fused.whyNot(k.node(), k.precision(), lay) == null || !catalog.has(GpuTactics.CONV_STEM)) return fused;
        Tactic stem = catalog.byId(GpuTactics.CONV_STEM);
        return stem.whyNot(k.node(), k.precision(), lay) == null ? stem : fused;
    }

    /** Predicted microseconds, NaN when the model has no tactic for the timed algorithm. */
    public double predictUs(String signature, String timedTactic, CostModel model) {
        Keyed k = keyed(signature);
        Node n = k.node();
        Precision p = k.precision();
        Layout l = k.layout();
        int slash = timedTactic.indexOf('/');
        String family = slash < 0 ? timedTactic : timedTactic.substring(0, slash), variant = slash < 0 ? "" : timedTactic.substring(slash + 1);
        if (family.equals(CONV_FUSED)) {
            String algo = ALIASES.getOrDefault(variant, variant);
            if (UNPRICED_ALGOS.contains(algo) || !ALGORITHMS.containsKey(algo)) return Double.NaN;
            if (n.body() == null) return cost(ALGORITHMS.get(algo), n, p, l, model);
            Node conv = n.body().nodes().get(0);
            double ratio = cost(ALGORITHMS.get(algo), conv, p, l, model) / cost(ALGORITHMS.get(PRECOMP), conv, p, l, model);
            return cost(convTactic(signature), n, p, l, model) * ratio;
        }
        if (!catalog.has(family)) return Double.NaN;
        return cost(catalog.byId(family), n, p, l, model);
    }

    private static double cost(Tactic t, Node n, Precision p, Layout l, CostModel model) {
        Layout lay = NodeFacts.layoutMatters(n) ? l : Layout.ANY;
        if (t.whyNot(n, p, lay) != null) return Double.NaN;
        return t.cost(model, n, p, lay, true).totalUs();
    }
}
