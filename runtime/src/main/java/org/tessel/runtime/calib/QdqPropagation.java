package org.tessel.runtime.calib;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * Pass that propagates activation Q/DQ pairs through the ops that commute with per-tensor symmetric
 * quantization, as TensorRT's Q/DQ propagation does before it fuses (DQ forward, toward the outputs;
 * Q backward, toward the inputs), so that a model whose tool placed its Q/DQ where NVIDIA's
 * pytorch-quantization and ModelOpt place it (a pair before a MaxPool whose output feeds a Conv, a
 * pair before a Reshape or Transpose that feeds a MatMul, pairs on a residual Add's inputs) folds with
 * its Conv/Gemm/MatMul reading quantized tensors ({@link ExplicitQuantization#fold}).
 *
 * <p>Write f for a pair at scale s (x/s rounded to the format's grid, saturated, times s). An op P
 * commutes with it when P(f(x)) = f(P(x)) exactly: MaxPool (f is monotonic; its Indices output
 * unused), Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather (the data input; they only
 * move or pick values; activation pairs are per tensor, so no axis is special), Relu (f(0) = 0 with a
 * zero point of 0, and f is monotonic), Pad (constant 0, f(0) = 0; edge, reflect and wrap copy
 * values) and Concat when every input comes through a pair at one scale. The pass adds pairs rather
 * than moving them, which is the same computation and keeps every reader's values:
 * <ul>
 * <li>forward: P reads f(x) (for Concat, every input through a pair at one scale) and nothing
 *     quantizes P's output y yet: y gets a pair at that scale and its readers read it through the
 *     pair. f(P(f(x))) = P(f(x)), so no value changes.
 * <li>backward: only pairs at one scale read P's output y, and P's data input u (an activation, not a
 *     graph output) is read by P alone and by no pair: u gets a pair at that scale. f(P(f(u))) =
 *     f(f(P(u))) = f(P(u)), so no value changes either. This is done only where u comes from a layer
 *     that can then write u quantized (a Conv/Gemm/MatMul or a residual Add, possibly through more
 *     commuting ops), as TensorRT moves a Q back to fuse it into the layer before it; elsewhere the
 *     added pair would only be an extra rounding for the engine to run.
 * </ul>
 * Each tensor gains at most one pair, so the pass ends. A pair that would reach a Conv/Gemm/MatMul's
 * activation input through commuting ops but stops at one that cannot take it (a Concat whose inputs
 * are not all quantized at one scale, a Pad with a non-zero value, a MaxPool whose Indices are read)
 * is refused naming that node: the model's placement asks for a quantized contraction the engine
 * cannot give it.
 *
 * <p>AveragePool and GlobalAveragePool do not commute (the mean of codes is not a code): TensorRT
 * treats them as quantizable, not commuting, so a pair is never carried through them. A DQ before and
 * a Q after run them at the two scales the model states (each pair folds onto its own tensor); an
 * output without a Q after it is float, and a contraction that reads it is not marked unless the
 * model puts a pair before that contraction (pytorch-quantization quantizes a pool's input and the
 * following Linear's input separately).
 */
public final class QdqPropagation {
    private QdqPropagation() {}

    /** Ops through which a per-tensor pair moves (data input 0; Concat: every input). */
    static final Set<String> COMMUTING = Set.of("MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "Concat", "Relu", "Pad");

    /**
     * What propagation did.
     *
     * @param forward  pairs added on commuting ops' outputs
     * @param backward pairs added on commuting ops' inputs
     * @param added    per added pair, "%tensor (after|before) node 'p' (Op)", in the order added
     */
    public record Result(int forward, int backward, List<String> added) {
        public int total() { return forward + backward; }
    }

    /** An activation Q/DQ pair: the DQ's output {@code out} is {@code source} quantized at {@code scale}. */
    private record Pair(Node q, Node dq, Value source, Value out, float scale) {
        boolean sameQuantizer(Pair o) {
            return Float.floatToIntBits(scale) == Float.floatToIntBits(o.scale) && q.output(0).type().dtype() == o.q.output(0).type().dtype();
        }
    }

    /** Propagates the activation pairs of {@code g} (in place) to a fixpoint. */
    public static Result propagate(Graph g) {
        List<String> added = new ArrayList<>();
        int fwd = 0, bwd = 0;
        for (boolean changed = true; changed; ) {
            changed = false;
            for (Node p : List.copyOf(g.nodes())) {
                if (!g.contains(p) || !COMMUTING.contains(p.opName())) continue;
                if (forward(g, p, added)) { fwd++; changed = true; }
                int b = backward(g, p, added);
                if (b > 0) { bwd += b; changed = true; }
            }
        }
        refuseStuck(g);
        return new Result(fwd, bwd, List.copyOf(added));
    }

    /** The pair whose DQ makes {@code v}: a per-tensor Q of a computed tensor, then a DQ at the same constant scale. */
    private static Pair pairOf(Value v) {
        if (v == null) return null;
        Node dq = v.producer();
        if (dq == null || !dq.opName().equals("DequantizeLinear")) return null;
        Node q = dq.input(0).producer();
        if (q == null || !q.opName().equals("QuantizeLinear") || q.input(0).isConstant()) return null;
        Float s = perTensorScale(q), sd = perTensorScale(dq);
        if (s == null || sd == null || Float.floatToIntBits(s) != Float.floatToIntBits(sd)) return null;
        return new Pair(q, dq, q.input(0), v, s);
    }

    private static Float perTensorScale(Node n) {
        Value s = n.numInputs() > 1 ? n.input(1) : null;
        if (s == null || !s.isConstant() || s.constantValue().size() != 1 || s.constantValue().dtype() != DType.F32) return null;
        if (n.numInputs() > 2 && n.input(2) != null) {
            Value z = n.input(2);
            if (!z.isConstant() || z.constantValue().size() != 1 || z.constantValue().getDouble(0) != 0) return null;
        }
        float v = s.constantValue().getFloat(0);
        return v > 0 && Float.isFinite(v) ? v : null; // a bad scale is left where it is, for folding to refuse naming its node
    }

    /** The inputs of {@code p} a pair moves through. */
    private static List<Integer> dataInputs(Node p) {
        if (!p.opName().equals("Concat")) return List.of(0);
        List<Integer> out = new ArrayList<>();
        for (int k = 0; k < p.numInputs(); k++) if (p.input(k) != null) out.add(k);
        return out;
    }

    /** Why {@code p} cannot take a pair at all (null: it can), whatever its inputs. */
    private static String whyNot(Graph g, Node p) {
        if (p.outputs().size() != 1 && !(p.opName().equals("MaxPool") && p.outputs().size() == 2))
            return "it has " + p.outputs().size() + " outputs";
        if (p.opName().equals("MaxPool") && p.outputs().size() == 2 && (!g.users(p.output(1)).isEmpty() || g.outputs().contains(p.output(1))))
            return "its Indices output %" + p.output(1).name() + " is read (the positions of the maxima may change under quantization)";
        if (p.opName().equals("Pad")) {
            String mode = p.attrs().getString("mode", "constant");
            if (!mode.equals("constant")) return null;
            Value c = p.numInputs() > 2 ? p.input(2) : null;
            if (c == null) return null;
            if (!c.isConstant()) return "its constant_value %" + c.name() + " is computed, not a constant 0";
            Tensor t = c.constantValue();
            for (int i = 0; i < t.size(); i++)
                if (t.getDouble(i) != 0) return "it pads with " + t.getDouble(i) + ", not 0 (a quantized tensor pads with code 0)";
        }
        return null;
    }

    /** Adds a pair on {@code p}'s output when its inputs come through pairs at one scale; true when it did. */
    private static boolean forward(Graph g, Node p, List<String> added) {
        Value y = p.output(0);
        if (!y.type().dtype().isFloating() || g.outputs().contains(y) || quantizedBy(g, y) != null) return false;
        Pair first = null;
        for (int k : dataInputs(p)) {
            Pair pr = pairOf(p.input(k));
            if (pr == null || (first != null && !first.sameQuantizer(pr))) return false;
            if (first == null) first = pr;
        }
        if (first == null || whyNot(g, p) != null) return false;
        if (g.users(y).isEmpty()) return false;
        List<Node> readers = List.copyOf(g.users(y));
        Value out = addPair(g, p, y, first);
        for (Node u : readers)
            for (int k = 0; k < u.numInputs(); k++) if (u.input(k) == y) g.setNodeInput(u, k, out);
        added.add("%" + y.name() + " after " + p.describe());
        return true;
    }

    /** Adds pairs on {@code p}'s data inputs when only pairs at one scale read its output; the number added. */
    private static int backward(Graph g, Node p, List<String> added) {
        Value y = p.output(0);
        if (g.outputs().contains(y) || whyNot(g, p) != null) return 0;
        Pair by = quantizedBy(g, y);
        if (by == null) return 0;
        for (Node u : g.users(y)) {
            Pair other = u.opName().equals("QuantizeLinear") ? pairOfQ(g, u) : null;
            if (other == null || !other.sameQuantizer(by)) return 0;
        }
        int n = 0;
        for (int k : dataInputs(p)) {
            Value v = p.input(k);
            if (v.isConstant() || !v.type().dtype().isFloating() || g.outputs().contains(v) || pairOf(v) != null) continue;
            // a tensor others read would change for them; and the Q goes back only toward a layer that can write it quantized
            if (g.users(v).size() != 1 || !writesQuantized(g, v, 0)) continue;
            Value out = addPair(g, v.producer(), v, by);
            g.setNodeInput(p, k, out);
            added.add("%" + v.name() + " before " + p.describe());
            n++;
        }
        return n;
    }

    /**
     * True when {@code v} is made by a layer that can store its output quantized: a Conv/ConvTranspose/
     * Gemm/MatMul, or an Add (the residual a fused convolution adds before writing), directly or
     * through commuting ops whose data input only they read.
     */
    private static boolean writesQuantized(Graph g, Value v, int depth) {
        Node p = v.producer();
        if (p == null || depth > 64) return false;
        if (PrecisionEmulation.TENSOR_CORE_OPS.contains(p.opName()) || p.opName().equals("Add")) return true;
        if (!COMMUTING.contains(p.opName()) || p.opName().equals("Concat") || whyNot(g, p) != null) return false;
        Value u = p.input(0);
        return !u.isConstant() && g.users(u).size() == 1 && !g.outputs().contains(u) && writesQuantized(g, u, depth + 1);
    }

    /** A pair (Q and every DQ reading it at its scale) that quantizes {@code v}, or null. */
    private static Pair quantizedBy(Graph g, Value v) {
        for (Node u : g.users(v)) {
            if (!u.opName().equals("QuantizeLinear")) continue;
            Pair pr = pairOfQ(g, u);
            if (pr != null) return pr;
        }
        return null;
    }

    private static Pair pairOfQ(Graph g, Node q) {
        for (Node d : g.users(q.output(0))) {
            Pair pr = pairOf(d.output(0));
            if (pr != null && pr.q == q) return pr;
        }
        return null;
    }

    /** A new Q/DQ pair like {@code like} on {@code v}, right after {@code after} (null: before every node); returns the DQ's output. */
    private static Value addPair(Graph g, Node after, Value v, Pair like) {
        int at = after == null ? 0 : g.indexOf(after) + 1;
        Node anchor = at < g.nodes().size() ? g.nodes().get(at) : null;
        Node q = insert(g, anchor, like.q, v.name() + "_q", List.of(v, like.q.input(1), like.q.numInputs() > 2 ? like.q.input(2) : null));
        Node dq = insert(g, anchor, like.dq, v.name() + "_dq", List.of(q.output(0), like.dq.input(1), like.dq.numInputs() > 2 ? like.dq.input(2) : null));
        return dq.output(0);
    }

    private static Node insert(Graph g, Node anchor, Node like, String name, List<Value> ins) {
        List<Value> in = new ArrayList<>(ins);
        while (!in.isEmpty() && in.getLast() == null) in.removeLast();
        OpSchema op = like.op();
        String nn = g.uniqueNodeName(name);
        List<TensorType> types = Graph.inferTypes(op, nn, in, like.attrs(), 1);
        return g.insertNodeBefore(anchor, op, nn, in, like.attrs(), types, List.of(g.uniqueValueName(nn)), null);
    }

    /**
     * Refuses a commuting op that a pair reaches but cannot pass, when its output reaches a
     * contraction's activation input unquantized through commuting ops.
     */
    private static void refuseStuck(Graph g) {
        for (Node p : g.nodes()) {
            if (!COMMUTING.contains(p.opName())) continue;
            Value y = p.output(0);
            if (quantizedBy(g, y) != null) continue;
            List<Pair> pairs = new ArrayList<>();
            Value plain = null;
            for (int k : dataInputs(p)) {
                Pair pr = pairOf(p.input(k));
                if (pr != null) pairs.add(pr);
                else if (!p.input(k).isConstant() || p.opName().equals("Concat")) plain = p.input(k);
            }
            if (pairs.isEmpty()) continue;
            String why = whyNot(g, p);
            if (why == null && p.opName().equals("Concat")) {
                if (plain != null) why = "its input %" + plain.name() + " has no Q/DQ pair";
                else
                    for (Pair pr : pairs)
                        if (!pr.sameQuantizer(pairs.getFirst())) {
                            why = String.format(Locale.ROOT, "its inputs are quantized at different scales (%%%s at %s, %%%s at %s)", pairs.getFirst().source().name(),
                                    pairs.getFirst().scale(), pr.source().name(), pr.scale());
                            break;
                        }
            }
            if (why == null) continue;
            Node reader = contractionReading(g, y, 0);
            if (reader != null)
                throw new ExplicitQuantization.QdqException(p.describe() + ": the Q/DQ pair on %" + pairs.getFirst().source().name() + " cannot move past it ("
                        + why + "), so " + reader.describe() + " would read %" + y.name() + " unquantized; put a Q/DQ pair on that input");
        }
    }

    /** A Conv/ConvTranspose/Gemm/MatMul that reads {@code v} as an activation, directly or through commuting ops; null when none. */
    private static Node contractionReading(Graph g, Value v, int depth) {
        if (depth > 64) return null;
        for (Node u : g.users(v)) {
            if (PrecisionEmulation.TENSOR_CORE_OPS.contains(u.opName())) return u;
            if (COMMUTING.contains(u.opName()) && quantizedBy(g, u.output(0)) == null) {
                Node r = contractionReading(g, u.output(0), depth + 1);
                if (r != null) return r;
            }
        }
        return null;
    }
}
