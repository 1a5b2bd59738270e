package org.tessel.tactics;

import java.util.List;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;

/**
 * One implementation of an op kind (or of a fused pattern): a cuDNN algorithm, a cuBLASLt
 * epilogue variant, a Tessel kernel, or the CPU reference. Its id is stable: plans, reports and
 * calibration tables refer to it, and the GPU backend implements the kernel behind the same id.
 */
public interface Tactic {
    /** Stable id, e.g. "cudnn.conv.implicit_precomp_gemm", "cublaslt.gemm.bias_gelu", "cpu.reference". */
    String id();

    Backend backend();

    /** True when the node's op kind (or fused kind) is one this tactic implements; shape, precision and layout aside. */
    boolean appliesTo(Node n);

    /** Null when the tactic runs this node at this precision and layout; otherwise the concrete reason it cannot. */
    String whyNot(Node n, Precision p, Layout l);

    default boolean supports(Node n, Precision p, Layout l) { return whyNot(n, p, l) == null; }

    /** Scratch memory the kernel needs besides its inputs and outputs. */
    long workspaceBytes(Node n, Precision p);

    /** What the cost model needs to know about this tactic on this node. */
    TacticFeatures features(Node n, Precision p, Layout l);

    /** True when an engine for this device can use the tactic: CPU tactics run anywhere (on a GPU, as a host round trip), GPU tactics only on a GPU. */
    default boolean runsOn(org.tessel.cost.DeviceSpec device) { return backend() == Backend.CPU || !device.isCpu(); }

    /** One line saying what the tactic is. */
    default String summary() { return id(); }

    /** Precisions it supports on some node (for listings; {@link #whyNot} has the final word). */
    default Set<Precision> precisions() { return Set.of(Precision.values()); }

    /** Layouts it takes image tensors in (for listings). */
    default Set<Layout> layouts() { return Set.of(Layout.NCHW, Layout.NHWC); }

    /**
     * The variants a plan may name after this tactic's id ({@code id/VARIANT}) where the tactic declares them: its
     * kernel's forms, each computing the same result, the one a plan names run, else the builder's tuner or default picks.
     * Empty where it declares none: a tactic without variants, or one whose builder knows them (a cuDNN algorithm, a
     * cuBLASLt heuristic index) and checks them as it builds. {@link org.tessel.tactics.plan.PlanCheck} refuses a variant
     * of a declaring tactic that is not one of these.
     */
    default List<String> planVariants() { return List.of(); }

    /**
     * The variants the search prices for node {@code n} at {@code p}: those of {@link #planVariants} that run it, each
     * priced by {@link #features(Node, Precision, Layout, String)}; the search's plan names the cheapest (the first on a
     * tie). Empty (the default) where the tactic's forms are not priced apart: the plan names none, and the builder's
     * tuner or default picks.
     */
    default List<String> pricedVariants(Node n, Precision p) { return List.of(); }

    /** Whether the search prices this tactic's variants apart ({@link #pricedVariants}); false: its builder picks the form. */
    default boolean pricesVariants() { return false; }

    /**
     * Why a plan's search cannot give node {@code n} variant {@code variant} at {@code p} (null: it can, one of
     * {@link #pricedVariants}): the tactic has no such variant, does not price its variants apart, or this one does not
     * run the node. With {@code n} null, only the first two.
     */
    default String variantWhyNot(Node n, String variant, Precision p) {
        if (!planVariants().contains(variant))
            return id() + " has no variant '" + variant + "'" + (planVariants().isEmpty() ? "" : " (its variants: " + String.join(", ", planVariants()) + ")");
        if (!pricesVariants()) return id() + " does not price its variants apart (its builder picks the form): force the tactic without one";
        return n == null || pricedVariants(n, p).contains(variant) ? null : "variant '" + variant + "' of " + id() + " does not run " + n.name();
    }

    /** What the cost model needs to know about variant {@code variant} of this tactic on this node ("": the tactic's own features). */
    default TacticFeatures features(Node n, Precision p, Layout l, String variant) { return features(n, p, l); }

    /**
     * The predicted cost of this tactic on this node: the model's estimate of the node's work with
     * this tactic's features; workspace is the tactic's own plus the split-K partials of the cut
     * the model picked. A CPU tactic inside a GPU engine pays the host round trip
     * ({@link CostModel#hostFallback}). The caller checks {@link #supports} first.
     */
    default Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) { return priced(model, n, p, l, cudaGraphs, features(n, p, l)); }

    /**
     * As {@link #cost(CostModel, Node, Precision, Layout, boolean)}, of variant {@code variant} (one of
     * {@link #pricedVariants}) priced by its own features; "" is the tactic's own cost, whoever overrides it.
     */
    default Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs, String variant) {
        return variant.isEmpty() ? cost(model, n, p, l, cudaGraphs) : priced(model, n, p, l, cudaGraphs, features(n, p, l, variant));
    }

    /** The model's estimate of the node's work with features {@code f}, the CPU fallback's round trip, the tactic's workspace. */
    private Cost priced(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs, TacticFeatures f) {
        Cost c = backend() == Backend.CPU ? model.hostFallback(id(), Work.of(n, Precision.FP32), f, cudaGraphs)
                : model.estimate(id(), Work.of(n, p), f, p, cudaGraphs);
        return c.withWorkspace(c.workspaceBytes() + workspaceBytes(n, p));
    }
}
