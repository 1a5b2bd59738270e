package org.tessel.search;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.ir.Node;
import org.tessel.search.domain.Choice;

/**
 * Where the search's prices come from: the tactics for a node with their predicted latency, and
 * the cost of conversions on edges. {@link CatalogCosting} asks the tactic catalogue and the
 * analytical cost model; tests may use a small table.
 */
public interface Costing {
    /**
     * Every tactic x precision x layout (layouts from {@code layouts}) that applies to the node,
     * supported ones priced and unsupported ones with their reason, for node index {@code index}.
     */
    List<Choice> choices(Node n, int index, List<Layout> layouts);

    /** Microseconds to change the layout of a tensor of this type (NCHW to NHWC or back). */
    double reformatUs(TensorType t);

    /** Microseconds to convert a tensor of this type to another element type. */
    double castUs(TensorType t, DType to);

    /**
     * Why {@code tacticId} offers no choice at all for node {@code n} (null: it does offer some):
     * the id is unknown, the tactic does not implement the node's op, or it cannot run on the
     * target. With {@code n} null only the id is checked. Forced choices report it.
     */
    default String whyNoChoice(Node n, String tacticId) {
        return n == null ? null : "no tactic '" + tacticId + "' is priced for " + n.describe();
    }

    /**
     * Why no choice of {@code tacticId} for {@code n} at {@code p} runs its variant {@code variant} (null: one does); with
     * {@code n} null, only whether the tactic declares the variant. Forced choices naming a variant report it.
     */
    default String variantWhyNot(Node n, String tacticId, String variant, org.tessel.cost.Precision p) { return null; }

    /** The measured time of a choice this costing priced by measurement, microseconds; empty when it was predicted. */
    default java.util.OptionalDouble measuredUs(Node n, Choice c) { return java.util.OptionalDouble.empty(); }

    /** The predicted time of a supported choice, microseconds (the cost model's, even where a measurement prices it). */
    default double predictedUs(Node n, Choice c) { return c.latencyUs(); }

    /** One line saying what prices this is ("h100-sxm, analytical model, no CUDA graphs"). */
    String describe();

    /** Microseconds to integer picoseconds, the unit of every score. */
    static long ps(double us) {
        if (Double.isNaN(us) || us < 0) throw new IllegalArgumentException("a cost must be a non-negative number of microseconds, got " + us);
        return Math.round(us * 1e6);
    }
}
