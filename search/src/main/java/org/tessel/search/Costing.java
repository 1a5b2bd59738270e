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

    /** One line saying what prices this is ("h100-sxm, analytical model, no CUDA graphs"). */
    String describe();

    /** Microseconds to integer picoseconds, the unit of every score. */
    static long ps(double us) {
        if (Double.isNaN(us) || us < 0) throw new IllegalArgumentException("a cost must be a non-negative number of microseconds, got " + us);
        return Math.round(us * 1e6);
    }
}
