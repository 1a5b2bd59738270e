package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * ONNX Einsum: the Einstein summation named by {@code equation}, e.g. {@code "bij,bjk->bik"}. Each operand's term
 * names its axes by letters (a-z, A-Z); a letter repeated within a term takes that operand's diagonal; letters not in
 * the output are summed over. {@code "..."} stands for the operand's leading unnamed axes, which broadcast (numpy's
 * rules, right-aligned) across operands. Without {@code "->"} the output is the broadcast axes followed by the
 * letters that occur exactly once, in ASCII order; with it, an output without {@code "..."} sums the broadcast axes.
 * Spaces are ignored. The reference accumulates in double (integers in long).
 */
public final class EinsumOp extends BaseOp {
    EinsumOp() {
        super(def("Einsum", "Einstein summation over the operands' named axes (contractions, transposes, diagonals, sums)")
                .inputs(1, Integer.MAX_VALUE, "Inputs").requiredAttr("equation", AttrValue.Kind.STRING, "the summation, e.g. \"bij,bjk->bik\""));
    }

    /** Labels 0-51 are the letters (a-z, then A-Z); 52 + k is the k-th broadcast (ellipsis) axis, left to right. */
    private static final int ELLIPSIS_BASE = 52;

    /**
     * An equation resolved against its operands' shapes: per operand, the label of each axis; the output's labels;
     * every label's size (0 for labels not used).
     */
    public record Spec(List<int[]> inputs, int[] output, int[] sizes) {
        public int labels() { return sizes.length; }
        public Shape outputShape() {
            int[] d = new int[output.length];
            for (int i = 0; i < d.length; i++) d[i] = sizes[output[i]];
            return Shape.of(d);
        }
        /** The letter, or "..k" for broadcast axis k. */
        public static String name(int label) {
            return label < 26 ? String.valueOf((char) ('a' + label)) : label < ELLIPSIS_BASE ? String.valueOf((char) ('A' + label - 26)) : "..." + (label - ELLIPSIS_BASE);
        }
    }

    private static int letter(char c, String equation) {
        if (c >= 'a' && c <= 'z') return c - 'a';
        if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
        throw new OpException("attribute equation '" + equation + "': '" + c + "' is not a letter, ',', '->' or '...'");
    }

    /** A term's letters (ELLIPSIS_BASE - 1 marks the "..."), at most one "...". */
    private static List<Integer> term(String t, String equation) {
        List<Integer> out = new ArrayList<>();
        int dots = 0;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c == '.') {
                if (!t.startsWith("...", i) || dots++ > 0)
                    throw new OpException("attribute equation '" + equation + "': term '" + t + "' has a '.' that is not one '...'");
                out.add(-1);
                i += 2;
            } else out.add(letter(c, equation));
        }
        return out;
    }

    /** Parses the equation and resolves it against the operands' shapes; fails naming what disagrees. */
    public static Spec spec(String equation, List<Shape> shapes) {
        String eq = equation.replace(" ", "");
        int arrow = eq.indexOf("->");
        String lhs = arrow < 0 ? eq : eq.substring(0, arrow);
        if (arrow >= 0 && eq.indexOf("->", arrow + 1) >= 0) throw new OpException("attribute equation '" + equation + "' has more than one '->'");
        String[] terms = lhs.split(",", -1);
        if (terms.length != shapes.size())
            throw new OpException("attribute equation '" + equation + "' has " + terms.length + " input term(s) for " + shapes.size() + " input(s)");
        int ellipsisRank = 0;
        List<List<Integer>> parsed = new ArrayList<>();
        for (int k = 0; k < terms.length; k++) {
            List<Integer> t = term(terms[k], equation);
            parsed.add(t);
            int named = t.contains(-1) ? t.size() - 1 : t.size();
            int rank = shapes.get(k).rank();
            if (t.contains(-1) ? rank < named : rank != named)
                throw new OpException("input " + k + " of shape " + shapes.get(k) + " has rank " + rank + ", its term '" + terms[k] + "' names " + named + " axes"
                        + (t.contains(-1) ? " and '...'" : ""));
            if (t.contains(-1)) ellipsisRank = Math.max(ellipsisRank, rank - named);
        }
        int[] sizes = new int[ELLIPSIS_BASE + ellipsisRank];
        Arrays.fill(sizes, -1);
        int[] counts = new int[sizes.length];
        List<int[]> inputs = new ArrayList<>();
        for (int k = 0; k < parsed.size(); k++) {
            Shape s = shapes.get(k);
            List<Integer> t = parsed.get(k);
            int[] labels = new int[s.rank()];
            int axis = 0;
            for (int l : t) {
                if (l == -1) {
                    int n = s.rank() - (t.size() - 1);
                    for (int e = 0; e < n; e++) labels[axis++] = ELLIPSIS_BASE + ellipsisRank - n + e;
                } else labels[axis++] = l;
            }
            for (int a = 0; a < labels.length; a++) {
                int l = labels[a], d = s.dim(a);
                counts[l]++;
                if (sizes[l] == -1 || sizes[l] == 1 && l >= ELLIPSIS_BASE) sizes[l] = d;
                else if (d != sizes[l] && !(d == 1 && l >= ELLIPSIS_BASE))
                    throw new OpException("attribute equation '" + equation + "': " + (l >= ELLIPSIS_BASE ? "the '...' axes" : "index '" + Spec.name(l) + "'")
                            + " has size " + sizes[l] + " and " + d + " (input " + k + " of shape " + s + ")");
            }
            inputs.add(labels);
        }
        int[] output;
        if (arrow < 0) {
            List<Integer> out = new ArrayList<>();
            for (int e = 0; e < ellipsisRank; e++) out.add(ELLIPSIS_BASE + e);
            TreeSet<Character> once = new TreeSet<>();
            for (int l = 0; l < ELLIPSIS_BASE; l++) if (counts[l] == 1) once.add(Spec.name(l).charAt(0));
            for (char c : once) out.add(letter(c, equation));
            output = out.stream().mapToInt(Integer::intValue).toArray();
        } else {
            List<Integer> t = term(eq.substring(arrow + 2), equation);
            List<Integer> out = new ArrayList<>();
            for (int l : t) {
                if (l == -1) { for (int e = 0; e < ellipsisRank; e++) out.add(ELLIPSIS_BASE + e); continue; }
                if (counts[l] == 0) throw new OpException("attribute equation '" + equation + "': output index '" + Spec.name(l) + "' is in no input term");
                if (out.contains(l)) throw new OpException("attribute equation '" + equation + "': output index '" + Spec.name(l) + "' is repeated");
                out.add(l);
            }
            output = out.stream().mapToInt(Integer::intValue).toArray();
        }
        for (int l = 0; l < sizes.length; l++) if (sizes[l] < 0) sizes[l] = 0;
        return new Spec(inputs, output, sizes);
    }

    private static List<Shape> shapes(List<TensorType> types) {
        List<Shape> s = new ArrayList<>();
        for (TensorType t : types) s.add(t.shape());
        return s;
    }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        DType t = ctx.input(0).dtype();
        DTypeSets.require("input 0", t, DTypeSets.NUMERIC);
        for (int i = 1; i < ctx.numInputs(); i++) OpUtil.requireSameDType("inputs 0 and " + i, t, ctx.input(i).dtype());
        List<TensorType> ins = new ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) ins.add(ctx.input(i));
        Spec s = spec(ctx.attrs().getString("equation", ""), shapes(ins));
        return List.of(TensorType.of(t, s.outputShape()));
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        List<Tensor> ins = new ArrayList<>();
        List<Shape> shapes = new ArrayList<>();
        for (int i = 0; i < ctx.numInputs(); i++) { ins.add(ctx.input(i)); shapes.add(ctx.input(i).shape()); }
        Spec s = spec(ctx.attrs().getString("equation", ""), shapes);
        DType t = ins.getFirst().dtype();
        boolean integral = !t.isFloating();
        // the loop runs over the output's labels, then the summed ones; each operand's flat index is a sum of strides
        boolean[] inOut = new boolean[s.labels()];
        for (int l : s.output()) inOut[l] = true;
        List<Integer> order = new ArrayList<>();
        for (int l : s.output()) order.add(l);
        for (int l = 0; l < s.labels(); l++) if (!inOut[l] && used(s, l)) order.add(l);
        int n = order.size();
        int[] extent = new int[n];
        for (int p = 0; p < n; p++) extent[p] = s.sizes()[order.get(p)];
        long[][] strides = new long[ins.size()][n];
        for (int k = 0; k < ins.size(); k++) {
            int[] labels = s.inputs().get(k), st = shapes.get(k).strides();
            for (int a = 0; a < labels.length; a++) {
                if (shapes.get(k).dim(a) == 1 && s.sizes()[labels[a]] != 1) continue; // a broadcast '...' axis
                strides[k][order.indexOf(labels[a])] += st[a];
            }
        }
        Shape outShape = s.outputShape();
        long outSize = outShape.numElements();
        Tensor out = Tensor.zeros(t, outShape);
        long inner = 1;
        for (int p = s.output().length; p < n; p++) inner *= extent[p];
        int[] counter = new int[n];
        long[] at = new long[ins.size()];
        if (inner > 0)
            for (long o = 0; o < outSize; o++) {
                double acc = 0;
                long iacc = 0;
                for (long r = 0; r < inner; r++) {
                    double prod = 1;
                    long iprod = 1;
                    for (int k = 0; k < ins.size(); k++) {
                        if (integral) iprod *= ins.get(k).getLong((int) at[k]);
                        else prod *= ins.get(k).getDouble((int) at[k]);
                    }
                    acc += prod;
                    iacc += iprod;
                    advance(counter, extent, strides, at);
                }
                if (integral) out.setLong((int) o, iacc);
                else Kernels.store(out, (int) o, acc);
            }
        return List.of(out);
    }

    private static boolean used(Spec s, int label) {
        for (int[] in : s.inputs()) for (int l : in) if (l == label) return true;
        return false;
    }

    /** Steps the odometer over all positions by one, the last fastest, keeping each operand's flat index. */
    private static void advance(int[] counter, int[] extent, long[][] strides, long[] at) {
        for (int p = counter.length - 1; p >= 0; p--) {
            counter[p]++;
            for (int k = 0; k < at.length; k++) at[k] += strides[k][p];
            if (counter[p] < extent[p]) return;
            for (int k = 0; k < at.length; k++) at[k] -= strides[k][p] * counter[p];
            counter[p] = 0;
        }
    }
}
