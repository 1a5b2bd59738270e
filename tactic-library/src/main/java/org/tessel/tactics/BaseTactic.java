package org.tessel.tactics;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * The checks every tactic makes in the same order, so reasons read alike: the op kind first, then
 * precision, then layout (only where the node's layout matters), then the tactic's own shape
 * limits ({@link #shapeWhyNot}).
 */
public abstract class BaseTactic implements Tactic {
    private final String id;
    private final String summary;
    private final Backend backend;
    private final Set<Precision> precisions;
    private final Set<Layout> layouts;

    protected BaseTactic(String id, String summary, Backend backend, Set<Precision> precisions, Set<Layout> layouts) {
        if (!id.matches("[a-z0-9_]+(\\.[a-z0-9_]+)+")) throw new IllegalArgumentException("tactic id '" + id + "' must be dotted lower_case words");
        if (precisions.isEmpty()) throw new IllegalArgumentException("tactic " + id + " supports no precision");
        this.id = id;
        this.summary = summary;
        this.backend = backend;
        this.precisions = Set.copyOf(EnumSet.copyOf(precisions));
        this.layouts = layouts.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(layouts));
    }

    @Override public final String id() { return id; }
    @Override public final Backend backend() { return backend; }
    @Override public String summary() { return summary; }
    @Override public Set<Precision> precisions() { return precisions; }
    @Override public Set<Layout> layouts() { return layouts; }

    /** What the tactic implements, for "applies to ..." reasons: "Conv", "fused conv_bias_act". */
    protected abstract String appliesToText();

    /** Shape, attribute and precision-specific limits, checked after kind, precision and layout; null when fine. */
    protected String shapeWhyNot(Node n, Precision p, Layout l) { return null; }

    /** True when the node is precision-neutral (no floating tensor), so any precision is accepted. */
    protected boolean precisionNeutral(Node n) { return false; }

    @Override public final String whyNot(Node n, Precision p, Layout l) {
        if (!appliesTo(n)) return id + " implements " + appliesToText() + ", not " + what(n);
        if (!precisions.contains(p) && !precisionNeutral(n)) return precisionText() + " (got " + p.text() + ")";
        if (NodeFacts.layoutMatters(n) && !layouts.contains(l))
            return "needs " + layouts.stream().map(Layout::text).map(s -> s.toUpperCase(Locale.ROOT)).sorted().collect(Collectors.joining(" or "))
                    + " layout (got " + l.text().toUpperCase(Locale.ROOT) + ")";
        return shapeWhyNot(n, p, l);
    }

    private String precisionText() {
        String list = precisions.stream().sorted().map(p -> p.text().toUpperCase(Locale.ROOT)).collect(Collectors.joining(", "));
        return precisions.size() == 1 ? list + " only" : "supports " + list + " only";
    }

    /** "Conv" or "fused conv_bias_act", for messages. */
    protected static String what(Node n) {
        String k = NodeFacts.fusedKind(n);
        return k != null ? "fused " + k : n.opName();
    }

    @Override public String toString() { return id; }
}
