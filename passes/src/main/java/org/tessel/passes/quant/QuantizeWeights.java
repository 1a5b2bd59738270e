package org.tessel.passes.quant;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.function.Supplier;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.passes.Pass;
import org.tessel.passes.PassContext;
import org.tessel.passes.PassException;
import org.tessel.passes.PassInfo;
import org.tessel.passes.PassOption;

/**
 * Pass that quantizes the constant weights of MatMul and Gemm nodes group-wise to INT8 or INT4 and
 * rewrites each node into {@code tessel.WeightOnlyMatMul} (a Gemm's bias becomes an Add after it).
 * A weight is a constant (deferred ones too: the codes are deferred in turn, so a large model's graph
 * still builds without its weights) or the [1, 0] Transpose of one (a head tied to the embedding).
 * Products of two activations (attention's Q x K^T, probabilities x V) are left alone.
 *
 * <p>The LM head, a MatMul whose output is a graph output, stays floating unless {@code lm-head=true}
 * (a tied head then gets its own quantized copy of the embedding, which the Gather keeps reading).
 * A weight whose K is not a multiple of the group size stays floating and is counted, not refused,
 * so one odd layer (llama-tiny's down_proj, K=172) does not stop the rest.
 *
 * <p>This pass changes the graph's values by design (the quantization error): it is not meaning
 * preserving, and pipelines put it first, on the model's own graph, before folding and fusion.
 */
public final class QuantizeWeights implements Pass {
    public static final PassOption BITS = new PassOption("bits", "4", "Bits per weight: 4 or 8");
    public static final PassOption GROUP = new PassOption("group-size", "128", "K elements of an output row sharing a scale");
    public static final PassOption SYMMETRIC = new PassOption("symmetric", "true", "true: scale = amax / 7 (or 127), zero implicit; false: a zero point per group");
    public static final PassOption LM_HEAD = new PassOption("lm-head", "false", "Quantize the LM head too (a MatMul writing a graph output)");
    public static final PassOption SCALE_TYPE = new PassOption("scale-type", "f16", "Element type of the scales: f16, bf16 or f32");
    private static final PassInfo INFO = PassInfo.named("quantize-weights", "Quantize constant MatMul/Gemm weights group-wise to INT8/INT4 (tessel.WeightOnlyMatMul)")
            .options(BITS, GROUP, SYMMETRIC, LM_HEAD, SCALE_TYPE)
            .statistic("matmuls-quantized", "MatMul/Gemm nodes rewritten into tessel.WeightOnlyMatMul")
            .statistic("kept-group-size", "Constant-weight MatMuls left floating: K is not a multiple of the group size")
            .statistic("kept-lm-head", "LM heads left floating (lm-head=false)")
            .statistic("weight-bytes-before", "Bytes of the floating weights the rewritten nodes read")
            .statistic("weight-bytes-after", "Bytes of their codes, scales and zero points")
            .build();

    @Override public PassInfo info() { return INFO; }

    /** The format and scale type the options ask for; a bad value is refused naming the option. */
    public static WeightQuantizer.Format format(PassContext ctx) {
        int bits = ctx.intOption(BITS), group = ctx.intOption(GROUP);
        String sym = ctx.option(SYMMETRIC).toLowerCase(Locale.ROOT);
        if (!sym.equals("true") && !sym.equals("false")) throw new PassException("option symmetric=" + ctx.option(SYMMETRIC) + " must be true or false");
        try {
            return new WeightQuantizer.Format(bits, group, sym.equals("true"));
        } catch (OpException e) {
            throw new PassException("quantize-weights options bits=" + bits + ", group-size=" + group + ": " + e.getMessage());
        }
    }

    static DType scaleType(PassContext ctx) {
        String s = ctx.option(SCALE_TYPE);
        DType t = DType.fromText(s).orElse(null);
        if (t != DType.F16 && t != DType.BF16 && t != DType.F32) throw new PassException("option scale-type=" + s + " must be f16, bf16 or f32");
        return t;
    }

    /** A contraction with a constant weight: the weight as [K, N] or, when {@code rowsAreN}, [N, K]. */
    public record Match(Node node, Value a, Value weight, boolean rowsAreN, Value bias, int k, int n) {}

    /**
     * The node as a MatMul/Gemm of an activation by a constant weight, or null: A floating (f32, f16,
     * bf16) and not constant, the weight a rank-2 floating constant or its [1, 0] Transpose; Gemm
     * only with transA=0 and alpha = beta = 1.
     */
    public static Match match(Node n) {
        boolean gemm = n.opName().equals("Gemm");
        if (!gemm && !n.opName().equals("MatMul")) return null;
        Value a = n.input(0), b = n.input(1);
        if (a == null || b == null || a.isConstant() || !isActivationType(a.type().dtype())) return null;
        boolean rowsAreN = false;
        Value w = b;
        if (!b.isConstant()) {
            Node t = b.producer();
            if (t == null || !t.opName().equals("Transpose") || !t.input(0).isConstant() || t.input(0).type().rank() != 2) return null;
            long[] perm = t.attrs().getInts("perm", new long[] {1, 0});
            if (perm.length != 2 || perm[0] != 1 || perm[1] != 0) return null;
            w = t.input(0);
            rowsAreN = true;
        }
        if (w.type().rank() != 2 || !w.type().dtype().isFloating()) return null;
        Value bias = null;
        if (gemm) {
            Attributes at = n.attrs();
            if (at.getInt("transA", 0) != 0 || at.getFloat("alpha", 1f) != 1f || at.getFloat("beta", 1f) != 1f || a.type().rank() != 2) return null;
            if (at.getInt("transB", 0) != 0) rowsAreN = !rowsAreN;
            bias = n.input(2);
        } else if (a.type().rank() < 2) {
            return null;
        }
        int k = w.type().shape().dim(rowsAreN ? 1 : 0), nn = w.type().shape().dim(rowsAreN ? 0 : 1);
        return new Match(n, a, w, rowsAreN, bias, k, nn);
    }

    static boolean isActivationType(DType t) { return t == DType.F32 || t == DType.F16 || t == DType.BF16; }

    /** True for the LM head: a contraction writing a graph output. */
    public static boolean isLmHead(Graph g, Node n) { return g.outputs().contains(n.output()); }

    /** The weight of a match as [K, N] row-major floats (reads a deferred constant's data). */
    public static float[] weightKN(Match m) {
        float[] w = m.weight().constantValue().floats();
        if (!m.rowsAreN()) return w;
        float[] t = new float[w.length];
        for (int j = 0; j < m.n(); j++)
            for (int c = 0; c < m.k(); c++) t[c * m.n() + j] = w[j * m.k() + c];
        return t;
    }

    @Override public boolean run(Graph g, PassContext ctx) {
        WeightQuantizer.Format f = format(ctx);
        DType scaleType = scaleType(ctx);
        boolean head = ctx.boolOption(LM_HEAD);
        boolean changed = false;
        for (Node n : new ArrayList<>(g.nodes())) {
            Match m = match(n);
            if (m == null) continue;
            if (!head && isLmHead(g, n)) {
                ctx.stats().inc("kept-lm-head");
                continue;
            }
            if (f.whyNot(m.k()) != null) {
                ctx.stats().inc("kept-group-size");
                continue;
            }
            Supplier<WeightQuantizer.Quantized> q = memo(() -> {
                try {
                    return quantized(m, f, scaleType);
                } catch (OpException e) {
                    throw new PassException(n.describe() + ": weight %" + m.weight().name() + ": " + e.getMessage());
                }
            });
            rewrite(g, m, f, scaleType, q, ctx.registry());
            ctx.stats().inc("matmuls-quantized");
            ctx.stats().add("weight-bytes-before", (long) m.k() * m.n() * m.weight().type().dtype().bytes());
            ctx.stats().add("weight-bytes-after", f.bytes(m.n(), m.k(), scaleType));
            changed = true;
        }
        if (changed) {
            for (Node n : new ArrayList<>(g.nodes()))
                if (n.opName().equals("Transpose") && n.input(0).isConstant() && g.useCount(n.output()) == 0 && !g.outputs().contains(n.output())) g.removeNode(n);
            g.removeUnusedConstants();
        }
        return changed;
    }

    /** Replaces the matched node by the quantized MatMul (then the bias Add), keeping its name and output name. */
    private static void rewrite(Graph g, Match m, WeightQuantizer.Format f, DType scaleType, Supplier<WeightQuantizer.Quantized> q, OpRegistry ops) {
        String base = m.weight().name();
        Value codes = g.addDeferredConstant(base + ".q" + f.bits(), TensorType.of(f.codeType(), f.codeShape(m.n(), m.k())), () -> q.get().codes());
        Value scales = g.addDeferredConstant(base + ".scales", TensorType.of(scaleType, f.groupShape(m.n(), m.k())), () -> q.get().scales());
        List<Value> ins = new ArrayList<>(List.of(m.a(), codes, scales));
        if (!f.symmetric()) ins.add(g.addDeferredConstant(base + ".zero_points", TensorType.of(DType.U8, f.groupShape(m.n(), m.k())), () -> q.get().zeroPoints()));
        Attributes attrs = Attributes.builder().put("bits", (long) f.bits()).put("group_size", (long) f.groupSize()).build();
        replace(g, m, ops.get(TesselOps.DOMAIN, "WeightOnlyMatMul"), ins, attrs, ops);
    }

    /**
     * Replaces a matched MatMul/Gemm by {@code op} on {@code ins} (then an Add of a Gemm's bias), the
     * last node taking the old node's name and output name; returns the new contraction node.
     */
    public static Node replace(Graph g, Match m, OpSchema op, List<Value> ins, Attributes attrs, OpRegistry ops) {
        Node n = m.node();
        String name = n.name(), outName = n.output().name();
        String mmName = g.uniqueNodeName(name + (m.bias() == null ? ".quantized" : ".matmul"));
        Node mm = g.insertNodeBefore(n, op, mmName, ins, attrs, Graph.inferTypes(op, mmName, ins, attrs, 1), null, null);
        Node last = mm;
        if (m.bias() != null) {
            OpSchema add = ops.get("", "Add");
            String addName = g.uniqueNodeName(name + ".bias");
            List<Value> addIns = List.of(mm.output(), m.bias());
            last = g.insertNodeBefore(n, add, addName, addIns, Attributes.empty(), Graph.inferTypes(add, addName, addIns, Attributes.empty(), 1), null, null);
        }
        if (!last.output().type().equals(n.output().type()))
            throw new PassException(n.describe() + ": the quantized form gives " + last.output().type() + ", the node gives " + n.output().type());
        g.replaceAllUses(n.output(), last.output());
        g.removeNode(n);
        g.renameNode(last, name);
        g.renameValue(last.output(), outName);
        return mm;
    }

    /**
     * Quantized forms by their source weights (identity; weakly held: an entry lives while its source tensor does) and
     * format: graphs of one model in several shapes (a decoder's step buckets) share their source weights, so each
     * weight is quantized once for all of them, not once a graph.
     */
    private static final Map<Tensor, Map<String, WeightQuantizer.Quantized>> QUANTIZED = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    private static WeightQuantizer.Quantized quantized(Match m, WeightQuantizer.Format f, DType scaleType) {
        Tensor source = m.weight().constantValue();
        String form = f.bits() + "/" + f.groupSize() + "/" + f.symmetric() + "/" + scaleType.text() + "/" + (m.rowsAreN() ? "nk" : "kn") + m.k() + "x" + m.n();
        Map<String, WeightQuantizer.Quantized> forms = QUANTIZED.computeIfAbsent(source, t -> new java.util.concurrent.ConcurrentHashMap<>());
        WeightQuantizer.Quantized made = forms.get(form);
        if (made == null) {
            made = WeightQuantizer.quantize(weightKN(m), m.k(), m.n(), f, scaleType);
            forms.putIfAbsent(form, made);
        }
        return made;
    }

    /** The supplier's value, made once on first use (shared by the codes, scales and zero points). */
    public static <T> Supplier<T> memo(Supplier<T> s) {
        return new Supplier<>() {
            private T value;
            @Override public synchronized T get() {
                if (value == null) value = s.get();
                return value;
            }
        };
    }

    /** The bytes of every constant of the graph, by their declared types (deferred ones are not made). */
    public static long constantBytes(Graph g) {
        long b = 0;
        for (Value c : g.constants()) b += c.type().numElements() * c.type().dtype().bytes();
        return b;
    }
}
