package org.tessel.tactics;

import java.util.Set;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;

/**
 * A tactic for a memory-bound kernel that is not tiled as a GEMM: elementwise ops, normalization,
 * pooling, reductions, copies. Everything about it sits in its {@link Config}; named instances
 * live in the holder class of their family ({@code EltwiseTactics}, {@code PoolTactics}...).
 */
public final class StreamingTactic extends BaseTactic {
    /** A shape or attribute limit: null when the node is within it, else the reason. */
    @FunctionalInterface
    public interface Limit { String check(Node n, Precision p, Layout l); }

    /**
     * @param id              stable id
     * @param summary         one line
     * @param appliesToText   what it implements, for messages ("elementwise ops", "Softmax, LogSoftmax")
     * @param matches         which nodes it implements (op kind or fused kind)
     * @param precisions      precisions it computes in
     * @param layouts         layouts it takes image tensors in
     * @param limit           shape and attribute limits
     * @param computeEfficiency fraction of the FP32 CUDA-core peak on its arithmetic
     * @param memoryEfficiency  fraction of peak bandwidth it streams at
     * @param kernelLaunches  kernels a run of the node launches (0: metadata only)
     * @param anyPrecisionWhenIntegral accept every precision on nodes with no floating tensor (their precision is moot)
     */
    public record Config(String id, String summary, String appliesToText, Predicate<Node> matches, Set<Precision> precisions, Set<Layout> layouts,
                         Limit limit, double computeEfficiency, double memoryEfficiency, ToIntFunction<Node> kernelLaunches, boolean anyPrecisionWhenIntegral) {
        /** The same kernel count for every node. */
        public Config(String id, String summary, String appliesToText, Predicate<Node> matches, Set<Precision> precisions, Set<Layout> layouts,
                      Limit limit, double computeEfficiency, double memoryEfficiency, int kernelLaunches, boolean anyPrecisionWhenIntegral) {
            this(id, summary, appliesToText, matches, precisions, layouts, limit, computeEfficiency, memoryEfficiency, n -> kernelLaunches, anyPrecisionWhenIntegral);
        }
    }

    /**
     * How a tactic's kernel forms differ in price: where each runs, and each one's features given the tactic's own
     * ({@link #features(Node, Precision, Layout)}). The search prices those that run a node, in the plan variants' order.
     */
    public interface VariantPricing {
        /** Why form {@code variant} (one of the tactic's plan variants) cannot run {@code n} at {@code p}; null: it can. */
        String whyNot(Node n, Precision p, String variant);

        /** The features of form {@code variant}, from the tactic's own. */
        TacticFeatures features(Node n, Precision p, String variant, TacticFeatures own);
    }

    private final Config config;
    private final java.util.List<String> planVariants;
    private final VariantPricing pricing;

    public StreamingTactic(Config c) { this(c, java.util.List.of(), null); }

    /**
     * A tactic whose kernel has forms a plan names as variants ({@link #planVariants}); with {@code pricing}, the search
     * prices them apart and its plan names the cheapest ({@link #pricedVariants}); without (null), the builder picks.
     */
    public StreamingTactic(Config c, java.util.List<String> planVariants, VariantPricing pricing) {
        super(c.id(), c.summary(), Backend.GPU, c.precisions(), c.layouts());
        this.config = c;
        this.planVariants = java.util.List.copyOf(planVariants);
        this.pricing = pricing;
    }

    public Config config() { return config; }

    @Override public java.util.List<String> planVariants() { return planVariants; }

    @Override public boolean appliesTo(Node n) { return config.matches().test(n); }
    @Override protected String appliesToText() { return config.appliesToText(); }
    @Override protected boolean precisionNeutral(Node n) { return config.anyPrecisionWhenIntegral() && !NodeFacts.floating(n); }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        return config.limit() == null ? null : config.limit().check(n, p, l);
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        int launches = config.kernelLaunches().applyAsInt(n);
        if (launches == 0) return TacticFeatures.view();
        return TacticFeatures.streaming(config.computeEfficiency(), config.memoryEfficiency(), launches);
    }

    @Override public java.util.List<String> pricedVariants(Node n, Precision p) {
        return pricing == null ? java.util.List.of() : planVariants.stream().filter(v -> pricing.whyNot(n, p, v) == null).toList();
    }

    @Override public boolean pricesVariants() { return pricing != null; }

    @Override public String variantWhyNot(Node n, String variant, Precision p) {
        String why = super.variantWhyNot(n, variant, p);
        return why == null || n == null || !pricesVariants() || !planVariants.contains(variant) ? why : pricing.whyNot(n, p, variant);
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l, String variant) {
        TacticFeatures own = features(n, p, l);
        if (variant.isEmpty()) return own;
        if (pricing == null || !planVariants.contains(variant))
            throw new IllegalArgumentException(id() + " prices no variant '" + variant + "'" + (pricing == null ? "" : " (its variants: " + String.join(", ", planVariants) + ")"));
        return pricing.features(n, p, variant, own);
    }
}
