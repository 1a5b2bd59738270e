package org.tessel.search;

import java.util.Arrays;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.tessel.api.AttrValue;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Measured kernel times that override the cost model's prediction: microseconds per (node, tactic,
 * precision, layout), the node identified by {@link #key(Node)}: op, fused body (each body node's
 * key), attributes and element types and shapes of inputs and outputs, layouts left out (the layout
 * is a key part of its own), names left out. So a node measured in an optimized graph (its values
 * carry layouts) matches the same node, or the same fusion candidate, in the search's prepared graph.
 * Where one key is measured more than once (several library algorithms of one catalogue tactic), the
 * fastest counts: that is the one the builder would keep.
 */
public final class MeasuredCosts {
    /** One measured choice. */
    public record Key(String node, String tactic, Precision precision, Layout layout) {}

    private final Map<Key, Double> us = new TreeMap<>(java.util.Comparator.comparing(Key::node).thenComparing(Key::tactic)
            .thenComparing(Key::precision).thenComparing(Key::layout));

    public void put(Node n, String tactic, Precision p, Layout l, double micros) {
        if (!(micros > 0) || Double.isInfinite(micros)) throw new IllegalArgumentException("measured time must be positive, got " + micros + " us for " + tactic + " on " + n.describe());
        us.merge(new Key(key(n), tactic, p, l), micros, Math::min);
    }

    public OptionalDouble get(Node n, String tactic, Precision p, Layout l) {
        Double v = us.get(new Key(key(n), tactic, p, l));
        return v == null ? OptionalDouble.empty() : OptionalDouble.of(v);
    }

    public int size() { return us.size(); }

    public Map<Key, Double> entries() { return java.util.Collections.unmodifiableMap(us); }

    /** The layout-free identity of a node for measured times. */
    public static String key(Node n) {
        StringBuilder sb = new StringBuilder(n.opName());
        if (n.body() != null) sb.append('[').append(n.body().nodes().stream().map(MeasuredCosts::key).collect(Collectors.joining(";"))).append(']');
        sb.append('{');
        n.attrs().asMap().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> sb.append(e.getKey()).append('=').append(attr(e.getValue())).append(';'));
        sb.append("}(");
        sb.append(n.inputs().stream().map(MeasuredCosts::type).collect(Collectors.joining(",")));
        return sb.append(")->").append(n.outputs().stream().map(MeasuredCosts::type).collect(Collectors.joining(","))).toString();
    }

    private static String type(Value v) { return v == null ? "none" : v.type().dtype().text() + v.type().shape(); }

    private static String attr(AttrValue v) {
        return switch (v) {
            case AttrValue.Int i -> Long.toString(i.value());
            case AttrValue.Float f -> Float.toString(f.value());
            case AttrValue.Str s -> s.value();
            case AttrValue.Ints i -> Arrays.toString(i.values());
            case AttrValue.Floats f -> Arrays.toString(f.values());
            case AttrValue.Strs s -> s.values().toString();
            case AttrValue.TensorValue t -> "tensor#" + Integer.toHexString(t.value().contentHash());
        };
    }
}
