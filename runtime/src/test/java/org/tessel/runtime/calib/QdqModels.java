package org.tessel.runtime.calib;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.EnginePlans;
import org.tessel.search.PrecisionRule;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.QuantizationTable;

/**
 * Q/DQ models for the explicit-quantization tests, built node by node as the ONNX exporters of
 * pytorch-quantization and ModelOpt lay them out, and the CPU engine such a model builds into (the
 * marked nodes pinned to INT8, every other node FP32, the model's scales and weight scales in the plan).
 */
final class QdqModels {
    private static final OpRegistry OPS = OpRegistry.global();

    final Graph g;
    private final SplittableRandom rnd;
    private int n;

    QdqModels(String name, long seed) {
        g = new Graph(name);
        rnd = new SplittableRandom(seed);
    }

    Value input(String name, int... dims) { return g.addInput(name, TensorType.of(DType.F32, Shape.of(dims))); }

    Value node(String op, String name, Attributes a, Value... ins) {
        return g.addNode(OPS.get("", op), name, java.util.Arrays.asList(ins), a, 1).output(0);
    }

    Value node(String op, String name, Value... ins) { return node(op, name, Attributes.empty(), ins); }

    Value constant(String base, Tensor t) { return g.addConstant(g.uniqueValueName(base), t); }

    Value ints(String base, long... v) { return constant(base, Tensor.ofLongs(DType.I64, Shape.of(v.length), v)); }

    /** {@code x} through QuantizeLinear/DequantizeLinear at {@code scale}, int8 zero point 0. */
    Value qdq(Value x, float scale) {
        Value s = constant("s", Tensor.ofFloats(Shape.scalar(), scale)), z = constant("z", Tensor.zeros(DType.I8, Shape.scalar()));
        int k = n++;
        Value q = node("QuantizeLinear", "q" + k, x, s, z);
        return node("DequantizeLinear", "dq" + k, q, s, z);
    }

    /**
     * A weight of {@code shape} as int8 codes (uniform in [-maxCode, maxCode], one element of each
     * channel at +-maxCode[c]) dequantized along {@code axis} at {@code scales} (one: per tensor).
     */
    Value weight(String name, int[] shape, int axis, float[] scales, int[] maxCode) {
        Shape sh = Shape.of(shape);
        int ch = shape[axis], inner = 1;
        for (int i = axis + 1; i < shape.length; i++) inner *= shape[i];
        long[] codes = new long[(int) sh.numElements()];
        boolean[] hit = new boolean[ch];
        for (int i = 0; i < codes.length; i++) {
            int c = (i / inner) % ch, m = maxCode[c % maxCode.length];
            codes[i] = hit[c] ? rnd.nextInt(-m, m + 1) : (rnd.nextBoolean() ? m : -m);
            hit[c] = true;
        }
        Value w = constant(name + "_codes", Tensor.ofLongs(DType.I8, sh, codes));
        Value s = constant(name + "_scale", scales.length == 1 ? Tensor.ofFloats(Shape.scalar(), scales[0]) : Tensor.ofFloats(Shape.of(scales.length), scales));
        Value z = constant(name + "_zero", scales.length == 1 ? Tensor.zeros(DType.I8, Shape.scalar()) : Tensor.zeros(DType.I8, Shape.of(scales.length)));
        Attributes a = scales.length == 1 ? Attributes.empty() : Attributes.empty().with("axis", AttrValue.of((long) axis));
        return node("DequantizeLinear", name, a, w, s, z);
    }

    /** A conv weight [cout, cin, k, k] per output channel, codes up to 127, scales around {@code scale}. */
    Value convWeight(String name, int cout, int cin, int k, float scale) {
        float[] s = new float[cout];
        for (int c = 0; c < cout; c++) s[c] = scale * (float) (0.5 + rnd.nextDouble());
        return weight(name, new int[] {cout, cin, k, k}, 0, s, new int[] {127});
    }

    Value conv(String name, Value x, Value w, int pad, int stride) {
        return node("Conv", name, Attributes.empty().with("pads", AttrValue.of(new long[] {pad, pad, pad, pad})).with("strides", AttrValue.of(new long[] {stride, stride})), x, w);
    }

    Value maxPool(String name, Value x, int k, int stride, int pad) {
        return node("MaxPool", name, Attributes.empty().with("kernel_shape", AttrValue.of(new long[] {k, k})).with("strides", AttrValue.of(new long[] {stride, stride}))
                .with("pads", AttrValue.of(new long[] {pad, pad, pad, pad})), x);
    }

    void outputs(Value... vs) { g.setOutputs(List.of(vs)); }

    /** Inputs uniform in [-1, 1). */
    static List<Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Tensor> in = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-1, 1));
            in.add(t);
        }
        return in;
    }

    /** A folded model and the CPU engine it builds into. */
    record Built(Graph folded, ExplicitQuantization.Result qdq, Engine engine, PlanApplier.Applied applied) {}

    /**
     * Folds a copy of {@code qdq} and builds a CPU engine: the nodes the Q/DQ marks at the format it
     * states, the rest FP32, the plan's table holding the model's activation and weight scales.
     */
    static Built build(Graph qdq) {
        Graph g = qdq.copy();
        ExplicitQuantization.Result r = ExplicitQuantization.fold(g);
        Graph prepared = Searcher.prepare(g);
        List<PrecisionRule> rules = new ArrayList<>();
        for (Node n : prepared.nodes())
            rules.add(new PrecisionRule(n.name(), r.quantizedNodes().contains(n.name()) ? EnumSet.of(r.format()) : EnumSet.of(Precision.FP32)));
        SearchOptions o = SearchOptions.defaults().withTarget(r.format() == Precision.FP8 ? "h200" : "h200-measured")
                .withPrecisions(EnumSet.of(Precision.FP32, r.format())).withPrecisionRules(rules);
        SearchProblem p = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "greedy", o));
        QuantizationTable t = QuantizationTable.forPlanned(a.graph(), a.plan(), r.format(), QuantizationTable.EXPLICIT, r.scales(), r.weightScales());
        PlanApplier.Applied q = new PlanApplier.Applied(a.graph(), a.plan().withQuantization(t));
        return new Built(g, r, Engine.buildCpu(q.graph(), q.plan()), q);
    }
}
