package org.tessel.runtime.llm.quant;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.quant.QuantizeWeights;

/**
 * Per-input-channel scaling of a decoder's linear layers, the graph rewrite AWQ and SmoothQuant share:
 * for a group of MatMuls reading one activation X (Q, K, V after a norm; gate and up), weights
 * W' = diag(s) W and the activation X' = X diag(1/s), so X' W' = X W in exact arithmetic. 1/s is
 * folded into the op that makes X when X is a norm's output read only by the group: RMSNorm's
 * closing {@code Mul} by its constant weight, RMSNormalization's scale (recognize-composites' form of it),
 * or LayerNormalization's scale and bias; otherwise
 * an explicit {@code Mul} by 1/s goes before the group. New weights are deferred constants made from
 * the old ones on first use, so a large model's graph stays cheap to build.
 *
 * <p>Scales are keyed by weight constant name (the same in every step shape of a zoo decoder); every
 * member of a group must have the same scales.
 */
public final class ChannelScaling {
    private ChannelScaling() {}

    /** Suffix of a scaled weight's name: the recipe keeps keying it by the original's ({@link #originalName}). */
    public static final String SCALED = ".scaled";

    /** The weight name a (possibly scaled) weight constant stands for: its name without the {@link #SCALED} suffix. */
    public static String originalName(Value w) {
        String n = w.name();
        return n.endsWith(SCALED) ? n.substring(0, n.length() - SCALED.length()) : n;
    }

    /** MatMuls with constant weights reading one activation, in graph order. */
    public record Group(Value activation, List<QuantizeWeights.Match> members) {
        public int k() { return members.getFirst().k(); }
        public List<String> weightNames() { return members.stream().map(m -> m.weight().name()).toList(); }
        /** The norm that makes the activation, when 1/s can be folded into it (null otherwise). */
        public Node foldTarget(Graph g) { return ChannelScaling.foldTarget(g, this); }
    }

    /** The groups of the graph: constant-weight MatMuls (not the LM head) by the activation they read. */
    public static List<Group> groups(Graph g) {
        Map<Value, List<QuantizeWeights.Match>> by = new LinkedHashMap<>();
        for (Node n : g.nodes()) {
            QuantizeWeights.Match m = QuantizeWeights.match(n);
            if (m == null || QuantizeWeights.isLmHead(g, n)) continue;
            by.computeIfAbsent(m.a(), v -> new ArrayList<>()).add(m);
        }
        List<Group> out = new ArrayList<>();
        for (var e : by.entrySet()) out.add(new Group(e.getKey(), List.copyOf(e.getValue())));
        return out;
    }

    static Node foldTarget(Graph g, Group grp) {
        Node p = grp.activation().producer();
        if (p == null) return null;
        // every reader must be in the group: folding changes X for all of them
        for (Node u : g.users(grp.activation())) if (grp.members().stream().noneMatch(m -> m.node() == u)) return null;
        if (g.outputs().contains(grp.activation())) return null;
        int k = grp.k();
        if (p.opName().equals("Mul")) {
            Value w = p.input(1);
            return w.isConstant() && w.type().shape().equals(Shape.of(k)) && w.type().dtype() == DType.F32 && !p.input(0).isConstant() ? p : null;
        }
        if ((p.opName().equals("LayerNormalization") || p.opName().equals("RMSNormalization")) && p.attrs().getInt("axis", -1) == -1) {
            for (int i = 1; i < p.numInputs(); i++) {
                Value v = p.input(i);
                if (v != null && (!v.isConstant() || !v.type().shape().equals(Shape.of(k)) || v.type().dtype() != DType.F32)) return null;
            }
            return p;
        }
        return null;
    }

    /**
     * Applies the scales to every group whose weights have them; returns the number of groups scaled.
     * Fails naming the weights when a group's members have different scales or a vector has the wrong length.
     */
    public static int apply(Graph g, Map<String, float[]> scales) {
        int done = 0;
        for (Group grp : groups(g)) {
            float[] s = null;
            for (QuantizeWeights.Match m : grp.members()) {
                float[] ms = scales.get(m.weight().name());
                if (ms == null) continue;
                if (ms.length != grp.k()) throw new IllegalArgumentException("scales of weight %" + m.weight().name() + " have " + ms.length + " channels, K is " + grp.k());
                if (s != null && !Arrays.equals(s, ms)) throw new IllegalArgumentException("weights " + grp.weightNames() + " read one activation but have different scales");
                s = ms;
            }
            if (s == null) continue;
            for (QuantizeWeights.Match m : grp.members())
                if (scales.get(m.weight().name()) == null) throw new IllegalArgumentException("weight %" + m.weight().name() + " has no scales, but " + grp.weightNames() + " read one activation");
            scaleGroup(g, grp, s);
            done++;
        }
        return done;
    }

    private static void scaleGroup(Graph g, Group grp, float[] s) {
        float[] inv = new float[s.length];
        for (int j = 0; j < s.length; j++) inv[j] = 1f / s[j];
        for (QuantizeWeights.Match m : grp.members()) scaleWeight(g, m, s);
        Node p = foldTarget(g, grp);
        if (p != null && p.opName().equals("Mul")) {
            g.setNodeInput(p, 1, scaled(g, p.input(1), inv));
        } else if (p != null) {
            for (int i = 1; i < p.numInputs(); i++) if (p.input(i) != null) g.setNodeInput(p, i, scaled(g, p.input(i), inv));
        } else {
            OpSchema mul = OpRegistry.global().get("", "Mul");
            Value invS = g.addConstant(grp.members().getFirst().weight().name() + ".input_scale", Tensor.ofFloats(Shape.of(s.length), inv));
            Node first = grp.members().getFirst().node();
            String name = g.uniqueNodeName(first.name() + ".input_scale");
            List<Value> ins = List.of(grp.activation(), invS);
            Node scaleNode = g.insertNodeBefore(first, mul, name, ins, Attributes.empty(), Graph.inferTypes(mul, name, ins, Attributes.empty(), 1), null, null);
            for (QuantizeWeights.Match m : grp.members()) g.setNodeInput(m.node(), 0, scaleNode.output());
        }
    }

    /** Row c of the member's [K, N] weight times s[c] (column c of an [N, K] one), as a new deferred constant. */
    private static void scaleWeight(Graph g, QuantizeWeights.Match m, float[] s) {
        Value w = m.weight();
        int k = m.k(), n = m.n();
        boolean storedNK = m.rowsAreN();
        Value nw = g.addDeferredConstant(w.name() + SCALED, w.type(), () -> {
            float[] src = w.constantValue().floats(), out = new float[src.length];
            for (int i = 0; i < src.length; i++) out[i] = src[i] * s[storedNK ? i % k : i / n];
            return Tensor.ofFloats(w.type().dtype(), w.type().shape(), out);
        });
        if (m.node().input(1) == w) g.setNodeInput(m.node(), 1, nw);
        else g.setNodeInput(m.node().input(1).producer(), 0, nw); // the [1, 0] Transpose of a tied head
    }

    /** A constant times {@code f} elementwise, as a new deferred constant. */
    private static Value scaled(Graph g, Value c, float[] f) {
        return g.addDeferredConstant(c.name() + SCALED, c.type(), () -> {
            float[] src = c.constantValue().floats(), out = new float[src.length];
            for (int i = 0; i < src.length; i++) out[i] = src[i] * f[i];
            return Tensor.ofFloats(c.type().dtype(), c.type().shape(), out);
        });
    }
}
