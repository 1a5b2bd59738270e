package org.tessel.ir.text;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.ops.BaseOp;
import org.tessel.ir.ops.OpUtil;

/**
 * Small ops of the text-format tests' own, so these tests do not depend on the built-in op set
 * being written in parallel: Conv-like shape inference, Relu, Add, a multi-output Split, a
 * permissive Pass op that takes every attribute kind and any dtype, a Fused op with a body, and a
 * Sink op with no results.
 */
final class TestOps {
    private TestOps() {}

    /** A registry of just these ops (no ServiceLoader). */
    static final OpRegistry REGISTRY = OpRegistry.load(List.of()).with("text-tests", all());

    private static final class Op extends BaseOp {
        private final Function<InferenceContext, List<TensorType>> infer;
        private final Function<EvalContext, List<Tensor>> eval;

        Op(Def def, Function<InferenceContext, List<TensorType>> infer, Function<EvalContext, List<Tensor>> eval) {
            super(def);
            this.infer = infer;
            this.eval = eval;
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) { return infer.apply(ctx); }
        @Override public List<Tensor> evaluate(EvalContext ctx) { return eval.apply(ctx); }
    }

    static List<OpSchema> all() {
        List<OpSchema> ops = new ArrayList<>();
        ops.add(new Op(BaseOp.def("Relu", "max(x, 0)").inputs(1, 1, "X").traits(Trait.ELEMENTWISE),
                ctx -> {
                    OpUtil.requireFloating("input X", ctx.input(0).dtype());
                    return List.of(TensorType.of(ctx.input(0).dtype(), ctx.input(0).shape()));
                },
                ctx -> {
                    Tensor x = ctx.input(0), y = Tensor.zeros(ctx.outputType(0));
                    for (int i = 0; i < x.size(); i++) y.setDouble(i, Math.max(0, x.getDouble(i)));
                    return List.of(y);
                }));
        ops.add(new Op(BaseOp.def("Add", "a + b with broadcasting").inputs(2, 2, "A", "B").traits(Trait.ELEMENTWISE, Trait.COMMUTATIVE),
                ctx -> {
                    OpUtil.requireSameDType("Add", ctx.input(0).dtype(), ctx.input(1).dtype());
                    return List.of(TensorType.of(ctx.input(0).dtype(), OpUtil.broadcast(ctx.input(0).shape(), ctx.input(1).shape())));
                },
                ctx -> {
                    Tensor a = ctx.input(0), b = ctx.input(1), y = Tensor.zeros(ctx.outputType(0));
                    int[] ia = OpUtil.broadcastIndex(a.shape(), y.shape()), ib = OpUtil.broadcastIndex(b.shape(), y.shape());
                    for (int i = 0; i < y.size(); i++) y.setDouble(i, a.getDouble(ia[i]) + b.getDouble(ib[i]));
                    return List.of(y);
                }));
        ops.add(new Op(BaseOp.def("Conv", "2-D convolution (shape inference only matters here)").inputs(2, 3, "X", "W", "B")
                .intsAttr("dilations", "").intAttr("group", 1, "").intsAttr("pads", "").intsAttr("strides", "")
                .traits(Trait.LAYOUT_SENSITIVE),
                ctx -> List.of(convType(ctx)),
                TestOps::conv));
        ops.add(new Op(BaseOp.def("Split", "splits along an axis").inputs(1, 2, "input", "split").outputs(1, Integer.MAX_VALUE)
                .intAttr("axis", 0, "").attr(AttrSpec.optional("num_outputs", AttrValue.Kind.INT, "")).traits(Trait.DATA_MOVEMENT),
                TestOps::splitTypes,
                TestOps::split));
        ops.add(new Op(BaseOp.def("Pass", "copies input 0 to every result; takes every attribute kind").inputs(1, 4, "X")
                .outputs(1, 3)
                .attr(AttrSpec.optional("i", AttrValue.Kind.INT, "")).attr(AttrSpec.optional("f", AttrValue.Kind.FLOAT, ""))
                .attr(AttrSpec.optional("s", AttrValue.Kind.STRING, "")).attr(AttrSpec.optional("ints", AttrValue.Kind.INTS, ""))
                .attr(AttrSpec.optional("floats", AttrValue.Kind.FLOATS, "")).attr(AttrSpec.optional("strs", AttrValue.Kind.STRINGS, ""))
                .attr(AttrSpec.optional("t", AttrValue.Kind.TENSOR, "")).attr(AttrSpec.optional("odd name", AttrValue.Kind.INT, "")),
                ctx -> copies(ctx),
                ctx -> {
                    List<Tensor> out = new ArrayList<>();
                    for (int i = 0; i < ctx.numOutputs(); i++) out.add(ctx.input(0).copy());
                    return out;
                }));
        ops.add(new Op(BaseOp.def("Fused", "a fused region; its body says what it computes").inputs(1, Integer.MAX_VALUE, "X")
                .outputs(1, Integer.MAX_VALUE).stringAttr("kind", "copy", "").traits(Trait.FUSED),
                ctx -> ctx.attrs().getString("kind", "copy").equals("conv_relu") ? List.of(convType(ctx)) : copies(ctx),
                ctx -> {
                    throw new OpException("a Fused node computes through its body; this one has none");
                }));
        ops.add(new Op(BaseOp.def("Sink", "consumes its input, defines nothing").inputs(1, 1, "X").outputs(0, 0).impure(),
                ctx -> List.of(),
                ctx -> List.of()));
        ops.add(new Op(BaseOp.def("Gen", "a value from nothing: an f32 tensor of the shape given by 'ints'").inputs(0, 0)
                .attr(AttrSpec.required("ints", AttrValue.Kind.INTS, "")).impure(),
                ctx -> List.of(TensorType.of(DType.F32, Shape.of(ctx.attrs().getInts("ints")))),
                ctx -> List.of(Tensor.zeros(ctx.outputType(0)))));
        ops.add(new Op(BaseOp.def("Relu", "a second Relu in another domain").domain("test.alt").inputs(1, 1, "X"),
                ctx -> List.of(ctx.input(0)),
                ctx -> List.of(ctx.input(0).copy())));
        return ops;
    }

    private static List<TensorType> copies(InferenceContext ctx) {
        List<TensorType> out = new ArrayList<>();
        for (int i = 0; i < ctx.numOutputs(); i++) out.add(TensorType.of(ctx.input(0).dtype(), ctx.input(0).shape()));
        return out;
    }

    private static TensorType convType(InferenceContext ctx) {
        TensorType x = ctx.input(0), w = ctx.input(1);
        OpUtil.requireRank("input X", x.shape(), 4);
        OpUtil.requireRank("input W", w.shape(), 4);
        long group = ctx.attrs().getInt("group", 1);
        long[] strides = ctx.attrs().getInts("strides", new long[] {1, 1});
        long[] pads = ctx.attrs().getInts("pads", new long[] {0, 0, 0, 0});
        long[] dil = ctx.attrs().getInts("dilations", new long[] {1, 1});
        if (x.shape().dim(1) != w.shape().dim(1) * group)
            throw new OpException("input X has " + x.shape().dim(1) + " channels but W expects " + w.shape().dim(1) * group);
        int[] out = new int[4];
        out[0] = x.shape().dim(0);
        out[1] = w.shape().dim(0);
        for (int i = 0; i < 2; i++) {
            long k = dil[i] * (w.shape().dim(2 + i) - 1) + 1;
            long o = (x.shape().dim(2 + i) + pads[i] + pads[i + 2] - k) / strides[i] + 1;
            if (o <= 0) throw new OpException("kernel larger than padded input");
            out[2 + i] = (int) o;
        }
        return TensorType.of(x.dtype(), out);
    }

    /** Naive direct convolution over NCHW, enough for running tiny parsed graphs. */
    private static List<Tensor> conv(EvalContext ctx) {
        Tensor x = ctx.input(0), w = ctx.input(1);
        Tensor b = ctx.hasInput(2) ? ctx.input(2) : null;
        Tensor y = Tensor.zeros(ctx.outputType(0));
        int group = (int) ctx.attrs().getInt("group", 1);
        long[] s = ctx.attrs().getInts("strides", new long[] {1, 1});
        long[] p = ctx.attrs().getInts("pads", new long[] {0, 0, 0, 0});
        long[] d = ctx.attrs().getInts("dilations", new long[] {1, 1});
        int n = y.shape().dim(0), m = y.shape().dim(1), oh = y.shape().dim(2), ow = y.shape().dim(3);
        int cg = w.shape().dim(1), kh = w.shape().dim(2), kw = w.shape().dim(3), h = x.shape().dim(2), wd = x.shape().dim(3);
        int mg = m / group;
        for (int in = 0; in < n; in++)
            for (int om = 0; om < m; om++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        double acc = b == null ? 0 : b.getDouble(om);
                        int g = om / mg;
                        for (int c = 0; c < cg; c++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    long iy = oy * s[0] - p[0] + ky * d[0], ix = ox * s[1] - p[1] + kx * d[1];
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    int ch = g * cg + c;
                                    acc += x.getDouble((int) (((in * (long) x.shape().dim(1) + ch) * h + iy) * wd + ix))
                                            * w.getDouble(((om * cg + c) * kh + ky) * kw + kx);
                                }
                        y.setDouble(((in * m + om) * oh + oy) * ow + ox, acc);
                    }
        return List.of(y);
    }

    private static List<Tensor> split(EvalContext ctx) {
        Tensor x = ctx.input(0);
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= x.shape().dim(i);
        for (int i = axis + 1; i < x.rank(); i++) inner *= x.shape().dim(i);
        List<Tensor> out = new ArrayList<>();
        int offset = 0;
        for (int k = 0; k < ctx.numOutputs(); k++) {
            Tensor y = Tensor.zeros(ctx.outputType(k));
            int len = y.shape().dim(axis);
            for (int o = 0; o < outer; o++)
                for (int a = 0; a < len; a++)
                    for (int i = 0; i < inner; i++)
                        y.setDouble((o * len + a) * inner + i, x.getDouble((o * x.shape().dim(axis) + offset + a) * inner + i));
            offset += len;
            out.add(y);
        }
        return out;
    }

    private static List<TensorType> splitTypes(InferenceContext ctx) {
        TensorType x = ctx.input(0);
        int axis = OpUtil.axis(ctx.attrs().getInt("axis", 0), x.rank(), "axis");
        int len = x.shape().dim(axis);
        long[] sizes;
        if (ctx.hasInput(1)) {
            sizes = OpUtil.longs(ctx.requireConstant(1, "split"));
            if (sizes.length != ctx.numOutputs())
                throw new OpException("split has " + sizes.length + " sizes for " + ctx.numOutputs() + " outputs");
        } else {
            int k = ctx.numOutputs();
            if (len % k != 0) throw new OpException("dimension " + len + " does not split evenly into " + k);
            sizes = new long[k];
            java.util.Arrays.fill(sizes, len / k);
        }
        long total = 0;
        for (long v : sizes) total += v;
        if (total != len) throw new OpException("split sizes sum to " + total + ", axis has " + len);
        List<TensorType> out = new ArrayList<>();
        for (long v : sizes) out.add(TensorType.of(x.dtype(), x.shape().withDim(axis, (int) v)));
        return out;
    }
}
