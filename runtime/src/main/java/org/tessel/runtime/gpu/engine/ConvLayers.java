package org.tessel.runtime.gpu.engine;

import java.util.List;
import java.util.Map;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.Activation;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.ConvMma;
import org.tessel.runtime.gpu.kernels.CudnnConv;
import org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc;
import org.tessel.runtime.gpu.kernels.Im2col;
import org.tessel.runtime.gpu.kernels.Fp8Epilogue;

/**
 * Convolutions: a plain Conv, or {@code tessel.Fused} kind=conv_bias_act (Conv [+ Add residual] [+ an activation]: ReLU in
 * the fused epilogue; Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu and GELU by {@link Activation} after it).
 * <ul>
 *   <li>{@code cudnn.conv.fused_bias_act}: cuDNN's fused convolution + bias + activation (+ residual) in the
 *       value's layout; variant: the cuDNN algorithm (IMPLICIT_PRECOMP_GEMM, the one cuDNN takes with the
 *       identity activation, unless tuned or planned), {@code /clamp}, {@code /sigmoid}, ... when the activation kernel runs after it;</li>
 *   <li>{@code tessel.conv.depthwise_nhwc}: Tessel's NHWC depthwise kernel (bias and clamp fused);</li>
 *   <li>{@code tessel.conv.stem}: an f16 NHWC convolution with few input channels, either reading the network's
 *       NCHW input itself ({@link StemConv}, its reformat absorbed) or on channels zero-padded to 8
 *       ({@link ChannelPad}, variant {@code nhwc_pad8}).</li>
 *   <li>{@code cublaslt.conv1x1}: a 1x1, stride-1, unpadded NHWC convolution of one group as cuBLASLt's matmul over its
 *       pixels (x [N*H*W, C] as stored by the filters [K, C] as stored), bias and ReLU in the epilogue, a residual as C
 *       ({@link #gemm1x1});</li>
 *   <li>{@code tessel.conv.mma}: Tessel's implicit-GEMM NHWC f16 convolution on tensor cores, K split over the grid where
 *       the output tiles leave SMs idle (variant {@code splitS}), bias, residual and ReLU in its epilogue ({@link #mma});</li>
 *   <li>{@code tessel.conv.int8_dp4a}: INT8 only, Tessel's dp4a implicit GEMM with Tessel's INT8 epilogue
 *       ({@link Int8Layers}); at INT8 {@code cudnn.conv.fused_bias_act} is cuDNN's INT8 convolution with the same
 *       epilogue, and {@code cublaslt.conv1x1} and {@code cublaslt.conv.im2col} cuBLASLt's INT8 GEMM over the pixels
 *       (requantized in cuBLASLt's epilogue); at FP8 those two are cuBLASLt's FP8 GEMM over pixels (on x as stored, on
 *       an im2col matrix of x's codes) with Tessel's FP8 epilogue ({@link Fp8Layers}); cuDNN has no FP8 convolution.</li>
 * </ul>
 */
public final class ConvLayers implements TacticImplementation {
    /** The convolution tactics with an INT8 form on the GPU ({@link Int8Layers}). */
    static final List<String> INT8 = List.of(GpuTactics.CONV_FUSED, GpuTactics.CONV_INT8_DP4A, GpuTactics.CONV_1X1_GEMM, GpuTactics.CONV_IM2COL_GEMM, GpuTactics.CONV_MMA);

    @Override public List<String> tacticIds() { return List.of(GpuTactics.CONV_FUSED, GpuTactics.CONV_STEM, GpuTactics.CONV_DEPTHWISE, GpuTactics.CONV_1X1_GEMM, GpuTactics.CONV_IM2COL_GEMM, GpuTactics.CONV_MMA, GpuTactics.CONV_INT8_DP4A); }

    @Override public boolean computes(Node n) {
        return n.opName().equals("Conv") || n.opName().equals("tessel.Fused") && n.attrs().getString("kind", "").equals("conv_bias_act");
    }

    /** The fixed rule: the depthwise kernel where it runs, the stem where it applies, else cuDNN's fused call. */
    @Override public String ruleTactic(LayerContext c, Node n) {
        if (!computes(n)) return null;
        Operands o = operands(n);
        int[] xd = o.x.type().shape().dims(), wd = o.w.type().shape().dims();
        if (xd.length != 4 || wd.length != 4) return GpuTactics.CONV_FUSED; // refused when built, naming the shapes
        int groups = (int) o.conv.attrs().getInt("group", 1);
        Layout layout = c.layoutOf(o.x);
        if (depthwise(xd, wd, groups, layout, o.residual)) return GpuTactics.CONV_DEPTHWISE;
        if (StemConv.applies(c, n, o.x, groups, layout) || ChannelPad.pads(c, o.x, groups, layout, n)) return GpuTactics.CONV_STEM;
        return GpuTactics.CONV_FUSED;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        List<String> parts = GpuTactics.parts(tactic);
        Operands o = operands(n);
        if (c.precision() == GpuEngine.Precision.INT8) {
            String why = int8WhyNot(n, parts.get(0));
            if (why != null) throw GpuEngineException.unsupported(n, why);
            return Int8Layers.conv(c, n, o, parts.get(0), parts.subList(1, parts.size()));
        }
        if (c.precision() == GpuEngine.Precision.FP8) {
            String why = fp8WhyNot(n, parts.get(0));
            if (why != null) throw GpuEngineException.unsupported(n, why);
            return Fp8Layers.conv(c, n, parts.get(0), o, o.act() == Act.RELU ? Fp8Epilogue.Activation.RELU : Fp8Epilogue.Activation.NONE,
                    parts.get(0).equals(GpuTactics.CONV_IM2COL_GEMM));
        }
        if (parts.get(0).equals(GpuTactics.CONV_INT8_DP4A))
            throw GpuEngineException.unsupported(n, GpuTactics.CONV_INT8_DP4A + " runs INT8 only (the node is built at " + c.precision().name().toLowerCase(java.util.Locale.ROOT) + ")");
        return conv(c, o, n, parts.get(0), parts.subList(1, parts.size()));
    }

    /**
     * cuDNN's fused convolution, Tessel's dp4a convolution and cuBLASLt's GEMMs over pixels ({@code cublaslt.conv1x1},
     * {@code cublaslt.conv.im2col}) run INT8 (NHWC, one group, channels multiples of 4; cuDNN symmetric pads only); the
     * stem and depthwise kernels do not.
     */
    @Override public String int8WhyNot(Node n, String id) {
        if (!INT8.contains(id)) return id + " has no INT8 kernel on the GPU (" + String.join(", ", INT8) + " have)";
        Operands o;
        try {
            o = operands(n);
        } catch (GpuEngineException e) {
            return e.getMessage();
        }
        return Int8Layers.convWhyNot(o, n.output(), o.x().type().layout() == Layout.NHWC ? Layout.NHWC : Layout.NCHW, id);
    }

    /**
     * cuDNN's fused call has no FP8 form in the legacy API, so an FP8 convolution is cuBLASLt's FP8 GEMM over pixels with
     * Tessel's FP8 epilogue ({@link Fp8Layers#conv}): {@code cublaslt.conv1x1} on x as stored (1x1, stride 1, unpadded,
     * input channels and pixels multiples of 16), {@code cublaslt.conv.im2col} on an im2col matrix of x's codes (any
     * kernel size, strides, pads, asymmetric too, and dilations; the matrix pads K to 16 and is gathered in slices of
     * whole images, one image's matrix at most 256 MiB). Either takes 2-D convolutions of one group in NHWC (pixels are the GEMM's rows), ReLU or no
     * activation, constant filters and bias, and output channels (the GEMM's N) in multiples of 16. A node whose layout
     * the plan has not decided yet (a search's question) is answered for NHWC, which the catalogue asks of FP8 convolutions.
     */
    @Override public String fp8WhyNot(Node n, String id) {
        if (!id.equals(GpuTactics.CONV_1X1_GEMM) && !id.equals(GpuTactics.CONV_IM2COL_GEMM))
            return id + " has no FP8 kernel on the GPU (" + GpuTactics.CONV_1X1_GEMM + " and " + GpuTactics.CONV_IM2COL_GEMM + " have)";
        Operands o;
        try {
            o = operands(n);
        } catch (GpuEngineException e) {
            return e.getMessage();
        }
        if (o.conv().attrs().getInt("group", 1) != 1) return "an FP8 convolution on the GPU has one group (got " + o.conv().attrs().getInt("group", 1) + ")";
        if (o.x().type().layout() == Layout.NCHW) return "an FP8 convolution on the GPU is NHWC (its pixels are the GEMM's rows), the plan lays it out nchw";
        if (o.act() != Act.NONE && o.act() != Act.RELU) return "the FP8 epilogue of a convolution takes ReLU or no activation (got " + o.act().name() + ")";
        if (o.w().constantValue() == null) return "an FP8 convolution takes constant filters (%" + o.w().name() + " is computed)";
        if (o.bias() != null && o.bias().constantValue() == null) return "an FP8 convolution takes a constant bias (%" + o.bias().name() + " is computed)";
        Im2col.Geometry g;
        try {
            g = pixelGeometry(o, n.output());
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        int cout = o.w().type().shape().dim(0);
        if (cout % 16 != 0) return "cuBLASLt's FP8 kernels need N (output channels) a multiple of 16 (got " + cout + ")";
        if (id.equals(GpuTactics.CONV_1X1_GEMM) && !Fp8Layers.direct(g))
            return id + " at FP8 runs 1x1, stride-1, unpadded convolutions over input channels and pixels in multiples of 16 (got " + g.kh() + "x" + g.kw() + ", strides "
                    + g.strideH() + "x" + g.strideW() + ", " + g.c() + " channels, " + g.m() + " pixels; " + GpuTactics.CONV_IM2COL_GEMM + " takes it)";
        if (id.equals(GpuTactics.CONV_IM2COL_GEMM) && g.withImages(1).bytes(1) > org.tessel.tactics.conv.ConvIm2colGemmTactic.MAX_MATRIX_BYTES)
            return id + "'s im2col matrix of one image [" + g.withImages(1).mpad() + ", " + g.kpad() + "] of e4m3 codes takes " + (g.withImages(1).bytes(1) >> 20)
                    + " MiB of workspace, more than " + (org.tessel.tactics.conv.ConvIm2colGemmTactic.MAX_MATRIX_BYTES >> 20) + " MiB";
        return null;
    }

    /**
     * The im2col geometry of a 2-D convolution run as a GEMM over its output pixels (at FP8 and INT8) with output {@code y} (shapes NCHW-ordered, as the IR holds them); throws
     * IllegalArgumentException naming what does not fit (rank, auto_pad, an output size the attributes do not give).
     */
    static Im2col.Geometry pixelGeometry(ConvLayers.Operands o, Value y) {
        int[] xd = o.x().type().shape().dims(), wd = o.w().type().shape().dims(), yd = y.type().shape().dims();
        if (xd.length != 4 || wd.length != 4 || yd.length != 4)
            throw new IllegalArgumentException("a convolution over its pixels (a GEMM on x or on its im2col matrix) is 2-D (got input " + o.x().type().shape() + ", weights " + o.w().type().shape() + ")");
        org.tessel.api.Attributes a = o.conv().attrs();
        String autoPad = a.getString("auto_pad", "NOTSET");
        if (!autoPad.equals("NOTSET") && !autoPad.equals("VALID"))
            throw new IllegalArgumentException("auto_pad=" + autoPad + " (the pipeline makes pads explicit; run the standard pipeline first)");
        long[] s = a.getInts("strides", new long[] {1, 1}), d = a.getInts("dilations", new long[] {1, 1}), p = a.getInts("pads", new long[] {0, 0, 0, 0});
        if (s.length != 2 || d.length != 2 || p.length != 4)
            throw new IllegalArgumentException("a 2-D convolution has 2 strides, 2 dilations and 4 pads (got strides " + java.util.Arrays.toString(s) + ", dilations "
                    + java.util.Arrays.toString(d) + ", pads " + java.util.Arrays.toString(p) + ")");
        Im2col.Geometry g = new Im2col.Geometry(xd[0], xd[2], xd[3], xd[1], yd[2], yd[3], wd[2], wd[3], (int) s[0], (int) s[1], (int) p[0], (int) p[1], (int) d[0], (int) d[1]);
        long oh = (xd[2] + p[0] + p[2] - d[0] * (wd[2] - 1) - 1) / s[0] + 1, ow = (xd[3] + p[1] + p[3] - d[1] * (wd[3] - 1) - 1) / s[1] + 1;
        if (oh != yd[2] || ow != yd[3])
            throw new IllegalArgumentException("the output " + y.type().shape() + " is not the " + oh + "x" + ow + " pixels the input, pads, strides and dilations give");
        return g;
    }

    /**
     * The activation after a convolution: none, ReLU (in the fused epilogue: clamp(0, inf)), or one that Tessel's
     * activation kernel applies after the epilogue ({@code post}: Clip's clamp(lo, hi), Sigmoid, Tanh, HardSigmoid (a, b),
     * HardSwish, LeakyRelu (a), GELU). {@code lo, hi} are the clamp that kernels with a clamping epilogue (depthwise,
     * INT8) apply themselves: ReLU's and Clip's, else none.
     */
    record Act(String name, Activation.Op post, float lo, float hi, float a, float b) {
        static final Act NONE = new Act("none", null, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0f, 0f);
        static final Act RELU = new Act("relu", null, 0f, Float.POSITIVE_INFINITY, 0f, 0f);

        static Act of(Activation.Op op, float a, float b) {
            return new Act(op.variant, op, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, a, b);
        }

        boolean clips() { return post == Activation.Op.CLAMP; }

        /** True when the activation is a clamp (none, ReLU, Clip): what a clamping epilogue applies by itself. */
        boolean isClamp() { return post == null || post == Activation.Op.CLAMP; }

        /** The tactic id's variant part for the activation kernel after the epilogue ("" when none runs). */
        String variantSuffix() { return post == null ? "" : "/" + post.variant; }

        /** Runs the activation kernel after the epilogue (in place on y), when there is one. */
        void apply(LayerContext c, DType t, DeviceBuffer y, long elems, CudaStream s) {
            if (post != null) Activation.run(c.kernels(), t, y, y, elems, post, lo, hi, a, b, s);
        }
    }

    /** The activation node {@code b} of a fused body (a conv_bias_act's, a gemm_bias_act's): ReLU, Clip, or one {@link Activation} applies; null for another op. */
    static Act act(Node fused, Graph body, Node b) {
        return switch (b.opName()) {
            case "Relu" -> Act.RELU;
            case "Clip" -> clip(fused, body, b);
            case "Sigmoid" -> Act.of(Activation.Op.SIGMOID, 0f, 0f);
            case "Tanh" -> Act.of(Activation.Op.TANH, 0f, 0f);
            case "HardSigmoid" -> Act.of(Activation.Op.HARD_SIGMOID, b.attrs().getFloat("alpha", 0.2f), b.attrs().getFloat("beta", 0.5f));
            case "HardSwish" -> Act.of(Activation.Op.HARD_SWISH, 0f, 0f);
            case "LeakyRelu" -> Act.of(Activation.Op.LEAKY_RELU, b.attrs().getFloat("alpha", 0.01f), 0f);
            case "Gelu" -> Act.of(b.attrs().getString("approximate", "none").equals("tanh") ? Activation.Op.GELU_TANH : Activation.Op.GELU_ERF, 0f, 0f);
            default -> null;
        };
    }

    /** A convolution node {@code conv} (its attributes) and its operands in the outer graph: x, w, bias, residual, and the activation after it. */
    record Operands(Node conv, Value x, Value w, Value bias, Value residual, Act act) {}

    /** The operands of a Conv or a conv_bias_act fused node; throws naming the node when the body is not one Conv chain. */
    static Operands operands(Node n) {
        if (n.opName().equals("Conv"))
            return new Operands(n, n.input(0), n.input(1), n.numInputs() > 2 ? n.input(2) : null, null, Act.NONE);
        Graph body = n.body();
        if (body == null) throw GpuEngineException.unsupported(n, "tessel.Fused without a body");
        // Body: Conv(in0, in1, in2) [-> Add(conv, in3)] [-> Relu | Clip(lo, hi)]
        Node conv = null;
        Value residual = null;
        Act act = Act.NONE;
        Value cur = null;
        for (Node b : body.nodes()) {
            switch (b.opName()) {
                case "Conv" -> {
                    if (conv != null) throw GpuEngineException.unsupported(n, "conv_bias_act body has two Conv nodes");
                    conv = b;
                    cur = b.output();
                }
                case "Add" -> {
                    if (cur == null || residual != null || act != Act.NONE) throw GpuEngineException.unsupported(n, "conv_bias_act body: Add must follow the Conv, once, before the activation");
                    Value other = b.input(0) == cur ? b.input(1) : b.input(1) == cur ? b.input(0) : null;
                    if (other == null) throw GpuEngineException.unsupported(n, "conv_bias_act body: Add does not take the Conv result");
                    if (!other.type().shape().equals(cur.type().shape())) throw GpuEngineException.unsupported(n, "conv_bias_act body: the residual " + other.type().shape() + " is broadcast to " + cur.type().shape());
                    residual = outer(n, body, other);
                    cur = b.output();
                }
                case "Relu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Gelu" -> {
                    if (cur == null || act != Act.NONE || b.input(0) != cur) throw GpuEngineException.unsupported(n, "conv_bias_act body: " + b.opName() + " must take the Conv (+ residual) result");
                    act = act(n, body, b);
                    cur = b.output();
                }
                default -> throw GpuEngineException.unsupported(n, "conv_bias_act body op " + b.opName() + " (node '" + b.name() + "') is not Conv, Add or an activation "
                        + "(Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu, Gelu)");
            }
        }
        if (conv == null || body.outputs().size() != 1 || body.outputs().get(0) != cur)
            throw GpuEngineException.unsupported(n, "conv_bias_act body must be one Conv chain ending in the body's only output");
        Value bias = conv.numInputs() > 2 && conv.input(2) != null ? outer(n, body, conv.input(2)) : null;
        return new Operands(conv, outer(n, body, conv.input(0)), outer(n, body, conv.input(1)), bias, residual, act);
    }

    private static Act clip(Node fused, Graph body, Node clip) {
        float lo = Float.NEGATIVE_INFINITY, hi = Float.POSITIVE_INFINITY;
        if (clip.attrs().has("min")) lo = clip.attrs().getFloat("min", lo);
        if (clip.attrs().has("max")) hi = clip.attrs().getFloat("max", hi);
        if (clip.numInputs() > 1 && clip.input(1) != null) lo = scalar(fused, outer(fused, body, clip.input(1)), "min");
        if (clip.numInputs() > 2 && clip.input(2) != null) hi = scalar(fused, outer(fused, body, clip.input(2)), "max");
        return new Act("clip", Activation.Op.CLAMP, lo, hi, 0f, 0f);
    }

    private static float scalar(Node n, Value v, String what) {
        if (v.constantValue() == null || v.type().numElements() != 1)
            throw GpuEngineException.unsupported(n, "Clip " + what + " %" + v.name() + " must be a scalar constant");
        return v.constantValue().getFloat(0);
    }

    /** The outer value a body input stands for. */
    static Value outer(Node fused, Graph body, Value inner) {
        int i = body.inputs().indexOf(inner);
        if (i < 0) throw GpuEngineException.unsupported(fused, "body value %" + inner.name() + " is not a body input");
        return fused.input(i);
    }

    private static boolean depthwise(int[] xd, int[] wd, int groups, Layout layout, Value residual) {
        return groups == xd[1] && groups == wd[0] && wd[1] == 1 && layout == Layout.NHWC && residual == null;
    }

    /** The cuDNN algorithm a variant part names, or null when it names none (e.g. "clamp"). */
    static Cudnn.FwdAlgo algoOrNull(String part) {
        for (Cudnn.FwdAlgo a : Cudnn.FwdAlgo.values()) if (a.tacticId().equals(part)) return a;
        return null;
    }

    /** The convolution of {@code owner} with tactic {@code id} and its variant parts. */
    private static Layer conv(LayerContext c, Operands o, Node owner, String id, List<String> variant) {
        Node conv = o.conv;
        Value x = o.x, w = o.w, bias = o.bias, residual = o.residual, out = owner.output();
        Act act = o.act;
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        if (xd.length != 4 || wd.length != 4) throw GpuEngineException.unsupported(owner, "only 2-D convolutions (rank-4 input and weights), got input " + x.type().shape() + ", weights " + w.type().shape());
        Attributes a = conv.attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        String autoPad = a.getString("auto_pad", "NOTSET");
        if (!autoPad.equals("NOTSET")) throw GpuEngineException.unsupported(owner, "auto_pad=" + autoPad + " (the pipeline makes pads explicit; run the standard pipeline first)");
        // the im2col gather and the mma kernel take any pads (top and left given, bottom and right implied by the output size); cuDNN symmetric ones
        if (!id.equals(GpuTactics.CONV_IM2COL_GEMM) && !id.equals(GpuTactics.CONV_MMA) && pads.length == 4 && (pads[0] != pads[2] || pads[1] != pads[3]))
            throw GpuEngineException.unsupported(owner, "asymmetric pads " + java.util.Arrays.toString(pads) + " (cuDNN takes symmetric pads; " + GpuTactics.CONV_IM2COL_GEMM + " takes these)");
        int groups = (int) a.getInt("group", 1);
        if (w.constantValue() == null) throw GpuEngineException.unsupported(owner, "weights %" + w.name() + " are not a constant");
        Layout layout = c.layoutOf(x);
        if (c.layoutOf(out) != layout) throw GpuEngineException.unsupported(owner, "input layout " + layout.text() + " differs from output layout " + c.layoutOf(out).text());
        DeviceBuffer yb = c.activation(out);
        switch (id) {
            case GpuTactics.CONV_DEPTHWISE -> {
                if (!depthwise(xd, wd, groups, layout, residual))
                    throw GpuEngineException.unsupported(owner, id + " runs depthwise NHWC convolutions without a residual (groups = input channels = output channels, one filter channel); "
                            + "this one has groups " + groups + ", input " + x.type().shape() + " " + layout.text() + ", weights " + w.type().shape() + (residual != null ? ", a residual" : ""));
                int[] od = out.type().shape().dims();
                DepthwiseConvNhwc.Shape ds = new DepthwiseConvNhwc.Shape(xd[0], xd[2], xd[3], xd[1], od[2], od[3], wd[2], wd[3],
                        (int) strides[0], (int) strides[1], (int) pads[0], (int) pads[1], (int) dil[0], (int) dil[1]);
                DeviceBuffer xb = c.activation(x);
                DeviceBuffer wb = c.upload(DepthwiseConvNhwc.packWeights(w.constantValue()), w);
                DeviceBuffer bb = bias == null ? null : c.weight(bias, Layout.ANY);
                DType t = c.storage();
                long elems = out.type().numElements();
                return new Layer() {
                    @Override public LayerPlan plan() { return c.plan(owner, GpuTactics.CONV_DEPTHWISE + (act.isClamp() ? "" : act.variantSuffix()), out); }
                    @Override public void enqueue(CudaStream s) {
                        DepthwiseConvNhwc.run(c.kernels(), t, ds, xb, wb, bb, yb, act.lo(), act.hi(), s);
                        if (!act.isClamp()) act.apply(c, t, yb, elems, s);
                    }
                };
            }
            case GpuTactics.CONV_STEM -> {
                // the RGB stem reading the network input (its nchw-to-nhwc reformat absorbed): one of several forms, see StemConv
                if (StemConv.applies(c, owner, x, groups, layout)) {
                    if (!variant.isEmpty() && variant.get(0).equals(ChannelPad.VARIANT))
                        throw GpuEngineException.unsupported(owner, id + "/" + ChannelPad.VARIANT + " pads an NHWC input, and this stem reads the network's NCHW input (its reformat is absorbed); use a form of "
                                + java.util.Arrays.stream(StemConv.Form.values()).map(f -> f.variant).toList());
                    return StemConv.build(c, conv, owner, x, w, bias, residual, act, yb, variant);
                }
                if (!ChannelPad.pads(c, x, groups, layout, owner))
                    throw GpuEngineException.unsupported(owner, id + " runs f16 NHWC convolutions of one group with up to 64 input channels, not a multiple of 8; this one has " + xd[1]
                            + " channels, groups " + groups + ", " + layout.text() + ", " + c.storage().text());
                if (!variant.isEmpty() && !variant.get(0).equals(ChannelPad.VARIANT))
                    throw GpuEngineException.unsupported(owner, id + "/" + variant.get(0) + " is a form of a stem that reads the network's NCHW input; this convolution's input is not an absorbed reformat of it, so only "
                            + id + "/" + ChannelPad.VARIANT + " runs it");
                return cudnn(c, o, owner, groups, layout, ChannelPad.of(c, owner, x, w), variant.size() > 1 ? variant.subList(1, variant.size()) : List.of());
            }
            case GpuTactics.CONV_FUSED -> { return cudnn(c, o, owner, groups, layout, null, variant); }
            case GpuTactics.CONV_1X1_GEMM -> { return gemm1x1(c, o, owner, groups, layout, strides, pads); }
            case GpuTactics.CONV_IM2COL_GEMM -> { return gemmIm2col(c, o, owner, groups, layout, strides, pads, dil); }
            case GpuTactics.CONV_MMA -> { return mma(c, o, owner, groups, layout, strides, pads, dil, variant); }
            default -> throw GpuEngineException.unsupported(owner, "tactic '" + id + "' is not a convolution tactic");
        }
    }

    /**
     * A 1x1, stride-1, unpadded NHWC convolution of one group as cuBLASLt's matmul: y [N*H*W, K] = act(x [N*H*W, C] ·
     * W[K, C]^T + bias + residual), the filters [K, C, 1, 1] read as [K, C] (the transposed operand), the bias and ReLU in
     * the epilogue, the residual as C with beta = 1; refused naming the node for any other geometry or a Clip.
     */
    private static Layer gemm1x1(LayerContext c, Operands o, Node owner, int groups, Layout layout, long[] strides, long[] pads) {
        Value x = o.x(), w = o.w();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        String id = GpuTactics.CONV_1X1_GEMM;
        if (layout != Layout.NHWC) throw GpuEngineException.unsupported(owner, id + " reads NHWC tensors (its pixels are the matmul's rows); the plan lays this one out " + layout.text());
        if (wd[2] != 1 || wd[3] != 1 || groups != 1 || java.util.Arrays.stream(strides).anyMatch(v -> v != 1) || java.util.Arrays.stream(pads).anyMatch(v -> v != 0))
            throw GpuEngineException.unsupported(owner, id + " runs 1x1, stride-1, unpadded convolutions of one group; this one has weights " + w.type().shape() + ", group " + groups
                    + ", strides " + java.util.Arrays.toString(strides) + ", pads " + java.util.Arrays.toString(pads));
        // [K, C, 1, 1] as stored is [K, C]
        return pixelGemm(c, o, owner, id, null, (long) xd[0] * xd[2] * xd[3], xd[1], wd[0], c.weight(w, Layout.ANY));
    }

    /**
     * A 2-D NHWC convolution of one group as {@link Im2col}'s matrix [N*OH*OW, kpad] of x times the filters reordered to
     * [Cout, kpad] ({@link Im2col#filters}), then the epilogue as {@link #gemm1x1}'s: tactic {@code cublaslt.conv.im2col}.
     * The matrix is gathered and multiplied in slices of whole images ({@link Im2col.Slicing}), each in the stream's
     * workspace ahead of cuBLASLt's.
     */
    private static Layer gemmIm2col(LayerContext c, Operands o, Node owner, int groups, Layout layout, long[] strides, long[] pads, long[] dil) {
        Value x = o.x(), w = o.w(), out = owner.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims(), od = out.type().shape().dims();
        String id = GpuTactics.CONV_IM2COL_GEMM;
        if (layout != Layout.NHWC) throw GpuEngineException.unsupported(owner, id + " gathers NHWC tensors (its pixels are the matmul's rows); the plan lays this one out " + layout.text());
        if (groups != 1) throw GpuEngineException.unsupported(owner, id + " runs convolutions of one group; this one has group " + groups);
        if (c.storage().bytes() != 2) throw GpuEngineException.unsupported(owner, id + " runs 16-bit (f16, bf16) engines; this layer stores " + c.storage().text());
        if (xd[1] % 8 != 0 || wd[0] % 8 != 0)
            throw GpuEngineException.unsupported(owner, id + " needs input and output channels that are multiples of 8 (got " + xd[1] + " -> " + wd[0] + ")");
        Im2col.Geometry g;
        try {
            g = new Im2col.Geometry(xd[0], xd[2], xd[3], xd[1], od[2], od[3], wd[2], wd[3], (int) strides[0], (int) strides[1], (int) pads[0], (int) pads[1], (int) dil[0], (int) dil[1]);
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(owner, e.getMessage());
        }
        if (g.withImages(1).bytes(2) > org.tessel.tactics.conv.ConvIm2colGemmTactic.MAX_MATRIX_BYTES)
            throw GpuEngineException.unsupported(owner, id + "'s im2col matrix of one image [" + g.withImages(1).mpad() + ", " + g.kpad() + "] takes " + (g.withImages(1).bytes(2) >> 20)
                    + " MiB of workspace, more than " + (org.tessel.tactics.conv.ConvIm2colGemmTactic.MAX_MATRIX_BYTES >> 20) + " MiB");
        DeviceBuffer wb = c.upload(() -> Im2col.filters(w.constantValue(), g.kpad()), w, "im2col:" + g.kpad());
        return pixelGemm(c, o, owner, id, g, g.m(), g.kpad(), wd[0], wb);
    }

    /**
     * The matmul over the output pixels both tactics run: y [m, nn] = act(A [m, kk] · wb [nn, kk]^T + bias + residual), A
     * x as stored or, with {@code im2col}, the matrix {@link Im2col} gathers from it first, slice by slice of whole images
     * ({@link Im2col.Slicing}: one cuBLASLt plan for a full slice's rows, another for the last slice's when they differ).
     */
    private static Layer pixelGemm(LayerContext c, Operands o, Node owner, String id, Im2col.Geometry im2col, long m, int kk, int nn, DeviceBuffer wb) {
        Value x = o.x(), bias = o.bias(), residual = o.residual(), out = owner.output();
        if (bias != null && bias.constantValue() == null) throw GpuEngineException.unsupported(owner, id + " takes a constant bias (%" + bias.name() + " is computed)");
        if (m > Integer.MAX_VALUE) throw GpuEngineException.unsupported(owner, "M = " + m + " pixels is too many for one matmul");
        if (out.type().numElements() != m * nn) throw GpuEngineException.unsupported(owner, "output " + out.type().shape() + " is not [" + m + " pixels, " + nn + " channels]");
        CublasLt.Epilogue epi = GemmLayers.epilogue(o.act() == Act.RELU, bias != null);
        DeviceBuffer xb = c.activation(x), yb = c.activation(out);
        DeviceBuffer bb = bias == null ? null : c.weight(bias, Layout.ANY);
        if (residual != null && c.layoutOf(residual) != Layout.NHWC)
            throw GpuEngineException.unsupported(owner, id + " adds its residual %" + residual.name() + " as the matmul's C, which must be NHWC like the output (the plan lays it out " + c.layoutOf(residual).text() + ")");
        DeviceBuffer rb = residual == null ? null : c.activation(residual);
        CublasLtGemm.Precision lp = GemmLayers.lp(c.precision());
        Im2col.Slicing slices = im2col == null ? null : Im2col.Slicing.of(im2col, 2, (long) nn * c.storage().bytes());
        long rows = slices == null ? m : slices.slice().m(), lastRows = slices == null ? m : slices.last().m();
        CublasLtGemm g = gemmPlan(c, owner, (int) rows, nn, kk, lp, epi, bb);
        CublasLtGemm gl = lastRows == rows ? g : gemmPlan(c, owner, (int) lastRows, nn, kk, lp, epi, bb);
        Act act = o.act();
        String tactic = (residual != null ? GpuTactics.variant(id, "residual") : id) + act.variantSuffix();
        if (slices != null) c.needWorkspace(slices.workspaceBytes(CublasLtGemm.WORKSPACE_BYTES));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        DType t = c.storage();
        long elems = out.type().numElements(), rowBytes = (long) nn * t.bytes();
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream s) {
                DeviceBuffer w0 = ws.get();
                if (slices == null) {
                    if (rb != null) g.run(0, xb, wb, 1f, rb, yb, w0, s);
                    else g.run(xb, wb, yb, w0, s);
                } else {
                    slices.run(c.kernels(), xb, w0, s, (last, matrix, row0, lt) -> {
                        long n = last ? lastRows : rows;
                        DeviceBuffer ys = yb.slice(row0 * rowBytes, n * rowBytes);
                        if (rb != null) (last ? gl : g).run(0, matrix, wb, 1f, rb.slice(row0 * rowBytes, n * rowBytes), ys, lt, s);
                        else (last ? gl : g).run(matrix, wb, ys, lt, s);
                    });
                }
                act.apply(c, t, yb, elems, s);
            }
            @Override public void close() {
                g.close();
                if (gl != g) gl.close();
            }
        };
    }

    /**
     * Tessel's implicit-GEMM convolution ({@link ConvMma}): NHWC, f16, one group, input channels a multiple of 32, output
     * channels of 8; ReLU, bias and a residual in its epilogue, another activation as the kernel after it. The split is
     * the plan's variant {@code splitS}, else {@link org.tessel.tactics.conv.ConvMmaTactic#splits} for this GPU's SMs;
     * a split run keeps its partial sums in the stream's workspace and its tile counters (zero between runs) in a buffer of its own.
     */
    private static Layer mma(LayerContext c, Operands o, Node owner, int groups, Layout layout, long[] strides, long[] pads, long[] dil, List<String> variant) {
        Value x = o.x(), w = o.w(), bias = o.bias(), residual = o.residual(), out = owner.output();
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims(), od = out.type().shape().dims();
        String id = GpuTactics.CONV_MMA;
        if (layout != Layout.NHWC) throw GpuEngineException.unsupported(owner, id + " reads NHWC tensors; the plan lays this one out " + layout.text());
        if (groups != 1) throw GpuEngineException.unsupported(owner, id + " runs convolutions of one group; this one has group " + groups);
        if (c.storage() != DType.F16) throw GpuEngineException.unsupported(owner, id + " runs f16 engines; this layer stores " + c.storage().text());
        if (bias != null && bias.constantValue() == null) throw GpuEngineException.unsupported(owner, id + " takes a constant bias (%" + bias.name() + " is computed)");
        if (residual != null && c.layoutOf(residual) != Layout.NHWC)
            throw GpuEngineException.unsupported(owner, id + " adds its residual %" + residual.name() + " in NHWC like the output (the plan lays it out " + c.layoutOf(residual).text() + ")");
        ConvMma.Geometry g = mmaGeometry(owner, xd, wd, od, strides, pads, dil, DType.F16);
        DeviceBuffer xb = c.activation(x), yb = c.activation(out), wb = c.weight(w, Layout.NHWC);
        DeviceBuffer bb = bias == null ? null : c.weight(bias, Layout.ANY);
        DeviceBuffer rb = residual == null ? null : c.activation(residual);
        Act act = o.act();
        boolean relu = act == Act.RELU;
        DeviceBuffer tiles = mmaCounters(c, g);
        int s = mmaSplits(c, owner, o.conv(), g, DType.F16, variant.isEmpty() || Activation.Op.ofVariant(variant.get(0)) != null ? null : variant.get(0), xb,
                (option, partials) -> (xin, st) -> ConvMma.run(c.kernels(), g, xin, wb, bb, rb, yb, partials, tiles, relu, option, st));
        java.util.function.Supplier<DeviceBuffer> ws = c.workspace();
        String tactic = GpuTactics.variant(id, org.tessel.tactics.conv.ConvMmaTactic.SPLIT_VARIANT + s) + act.variantSuffix();
        long elems = out.type().numElements();
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream st) {
                ConvMma.run(c.kernels(), g, xb, wb, bb, rb, yb, s > 1 ? ws.get() : null, tiles, relu, s, st);
                act.apply(c, DType.F16, yb, elems, st);
            }
        };
    }

    /** A {@code tessel.conv.mma} geometry at element type {@code t}, refused naming the node where the kernel cannot take it. */
    static ConvMma.Geometry mmaGeometry(Node owner, int[] xd, int[] wd, int[] od, long[] strides, long[] pads, long[] dil, DType t) {
        ConvMma.Geometry g;
        try {
            g = new ConvMma.Geometry(xd[0], xd[2], xd[3], xd[1], od[2], od[3], wd[2], wd[3], (int) strides[0], (int) strides[1], (int) pads[0], (int) pads[1], (int) dil[0], (int) dil[1], wd[0]);
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(owner, e.getMessage());
        }
        String why = g.whyNot(t);
        if (why != null) throw GpuEngineException.unsupported(owner, why);
        return g;
    }

    /** This context's own tile counters for a {@code tessel.conv.mma} layer: the kernel counts the blocks done per tile in them and leaves them zero. */
    static DeviceBuffer mmaCounters(LayerContext c, ConvMma.Geometry g) {
        DeviceBuffer tiles = c.keep(DeviceBuffer.allocate(4L * g.counters()));
        tiles.fill((byte) 0);
        return tiles;
    }

    /** One run of a {@code tessel.conv.mma} layer with a given split and partial-sum buffer (null unsplit), as the tuner times it. */
    interface MmaCall {
        java.util.function.BiConsumer<DeviceBuffer, CudaStream> with(int splits, DeviceBuffer partials);
    }

    /**
     * The tile a {@code tessel.conv.mma} layer runs at element type {@code t}: the plan's variant when it names one
     * ({@code wide}: the wide tile; {@code splitS}: the small one), else, with a tuner and where the wide tile applies
     * ({@link org.tessel.tactics.conv.ConvMmaTactic#wide} on this GPU), the faster of the wide tile and the small one
     * unsplit (timed through {@code call}), else the rule's. f16 runs the small tile only.
     */
    static ConvMma.Tile mmaTile(LayerContext c, Node owner, Node conv, ConvMma.Geometry g, DType t, String planned, DeviceBuffer xb,
                                java.util.function.Function<ConvMma.Tile, java.util.function.BiConsumer<DeviceBuffer, CudaStream>> call) {
        String id = GpuTactics.CONV_MMA, wideVariant = org.tessel.tactics.conv.ConvMmaTactic.WIDE_VARIANT;
        if (planned != null && planned.equals(wideVariant)) {
            if (t != DType.I8) throw GpuEngineException.unsupported(owner, "variant '" + wideVariant + "' of " + id + " runs int8 convolutions; this one is " + t.text());
            return ConvMma.Tile.WIDE;
        }
        if (planned != null || t != DType.I8) return ConvMma.Tile.SMALL;
        boolean wide = org.tessel.tactics.conv.ConvMmaTactic.wide(g.m(), g.cout(), t.bytes(), c.kernels().context().device().smCount());
        if (!wide || c.tuner() == null) return wide ? ConvMma.Tile.WIDE : ConvMma.Tile.SMALL;
        Map<String, java.util.function.BiConsumer<DeviceBuffer, CudaStream>> calls = new java.util.LinkedHashMap<>();
        calls.put(GpuTactics.variant(id, wideVariant), call.apply(ConvMma.Tile.WIDE));
        calls.put(GpuTactics.variant(id, org.tessel.tactics.conv.ConvMmaTactic.SPLIT_VARIANT + 1), call.apply(ConvMma.Tile.SMALL));
        String chosen = c.tuner().fastestOf(owner, conv, calls, xb);
        if (chosen == null) throw GpuEngineException.unsupported(owner, id + " ran with neither tile");
        return chosen.endsWith("/" + wideVariant) ? ConvMma.Tile.WIDE : ConvMma.Tile.SMALL;
    }

    /**
     * The K split a {@code tessel.conv.mma} layer runs at element type {@code t}: the plan's variant {@code split} (splitS)
     * when given, else, with a tuner, the fastest of the SM-filling split, half and twice it, and none (timed through
     * {@code call}, named in the tuner's records as {@code tessel.conv.mma/splitS}), else the SM-filling split
     * ({@link org.tessel.tactics.conv.ConvMmaTactic#splits}). A split run's partial sums take the stream's workspace.
     */
    static int mmaSplits(LayerContext c, Node owner, Node conv, ConvMma.Geometry g, DType t, String split, DeviceBuffer xb, MmaCall call) {
        String id = GpuTactics.CONV_MMA, prefix = org.tessel.tactics.conv.ConvMmaTactic.SPLIT_VARIANT;
        int most = Math.min(org.tessel.tactics.conv.ConvMmaTactic.MAX_SPLITS, g.slices(t));
        int splits = org.tessel.tactics.conv.ConvMmaTactic.splits(g.m(), g.cout(), g.k(), t.bytes(), c.kernels().context().device().smCount());
        if (split != null) {
            String count = split.startsWith(prefix) ? split.substring(prefix.length()) : "";
            if (!count.matches("[0-9]{1,3}") || Integer.parseInt(count) < 1 || Integer.parseInt(count) > most)
                throw GpuEngineException.unsupported(owner, "variant '" + split + "' of " + id + " names no split: " + prefix + "1 to " + prefix + most + " for K = " + g.k());
            splits = Integer.parseInt(count);
        } else if (c.tuner() != null) {
            // no split planned: the tuner times the SM-filling split, half and twice it, and none (in that order at COST_MODEL)
            java.util.LinkedHashSet<Integer> options = new java.util.LinkedHashSet<>(List.of(splits, Math.max(1, splits / 2), Math.min(most, splits * 2), 1));
            Map<String, java.util.function.BiConsumer<DeviceBuffer, CudaStream>> calls = new java.util.LinkedHashMap<>();
            for (int option : options) {
                long bytes = org.tessel.tactics.conv.ConvMmaTactic.partialBytes(g.m(), g.cout(), option);
                calls.put(GpuTactics.variant(id, prefix + option), call.with(option, option > 1 ? c.tuner().workspace(bytes) : null));
            }
            String chosen = c.tuner().fastestOf(owner, conv, calls, xb);
            if (chosen == null) throw GpuEngineException.unsupported(owner, id + " ran with none of the splits " + options);
            splits = Integer.parseInt(chosen.substring(chosen.lastIndexOf('/') + 1 + prefix.length()));
        }
        if (splits > 1) c.needWorkspace(org.tessel.tactics.conv.ConvMmaTactic.partialBytes(g.m(), g.cout(), splits));
        return splits;
    }

    private static CublasLtGemm gemmPlan(LayerContext c, Node owner, int m, int nn, int kk, CublasLtGemm.Precision lp, CublasLt.Epilogue epi, DeviceBuffer bias) {
        CublasLtGemm g = CublasLtGemm.plan(c.cublasLt(), new CublasLtGemm.Spec(m, nn, kk, true, lp, epi), bias, 1);
        if (g.algos().isEmpty()) { g.close(); throw GpuEngineException.unsupported(owner, "cuBLASLt has no algorithm for the " + m + "x" + nn + "x" + kk + " " + lp + " matmul of this convolution"); }
        return g;
    }

    /** cuDNN's fused convolution, on the padded input when {@code pad} is given; {@code variant}: [ALGO][/ACTIVATION] (clamp, sigmoid, ...). */
    private static Layer cudnn(LayerContext c, Operands o, Node owner, int groups, Layout layout, ChannelPad pad, List<String> variant) {
        Node conv = o.conv;
        Value x = o.x, w = o.w, bias = o.bias, residual = o.residual, out = owner.output();
        Act act = o.act;
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        Attributes a = conv.attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        DeviceBuffer yb = c.activation(out);
        DeviceBuffer cx = pad == null ? c.activation(x) : pad.input();
        GpuEngine.Precision precision = c.precision();
        CudnnConv.Math math = precision == GpuEngine.Precision.TF32 ? CudnnConv.Math.TF32_ALLOWED : CudnnConv.Math.FP32_STRICT;
        CudnnConv.Spec spec = new CudnnConv.Spec(xd[0], pad == null ? xd[1] : pad.channels(), xd[2], xd[3], wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1],
                (int) strides[0], (int) strides[1], (int) dil[0], (int) dil[1], groups, layout, c.storage(), math);
        CudnnConv k = CudnnConv.create(c.cudnn(), spec);
        int[] od = out.type().shape().dims();
        int[] kd = k.outputDims();
        if (!java.util.Arrays.equals(od, kd)) { k.close(); throw GpuEngineException.unsupported(owner, "cuDNN output " + java.util.Arrays.toString(kd) + " differs from the IR's " + out.type().shape()); }
        DeviceBuffer wb = pad == null ? c.weight(w, layout) : pad.weights();
        DeviceBuffer bb = bias != null ? c.weight(bias, Layout.ANY) : c.upload(Tensor.zeros(DType.F32, org.tessel.api.Shape.of(wd[0])), w, "zero-bias");
        DeviceBuffer zb = residual == null ? null : c.activation(residual);
        // cuDNN's fused call takes any algorithm with ReLU, only IMPLICIT_PRECOMP_GEMM with the identity;
        // a Clip with lo >= 0 is ReLU then the clamp (clamp(relu(v), lo, hi) == clamp(v, lo, hi)), so it may use cuDNN's ReLU too
        boolean relu = act == Act.RELU || (act.clips() && act.lo() >= 0f);
        Cudnn.FwdAlgo planned = variant.isEmpty() ? null : algoOrNull(variant.get(0));
        if (!variant.isEmpty() && planned == null && Activation.Op.ofVariant(variant.get(0)) == null) {
            k.close();
            throw GpuEngineException.unsupported(owner, "variant '" + variant.get(0) + "' names no cuDNN algorithm of this build (known: "
                    + java.util.Arrays.stream(Cudnn.FwdAlgo.values()).map(Cudnn.FwdAlgo::tacticId).toList() + ")");
        }
        Cudnn.FwdAlgo algo = planned != null ? planned
                : c.tuner() != null ? c.tuner().conv(k, conv, owner, cx, wb, bb, zb, yb, relu) : Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM;
        c.needWorkspace(k.workspaceSize(algo));
        java.util.function.Supplier<DeviceBuffer> workspace = c.workspace();
        long elems = out.type().numElements();
        DType t = c.storage();
        // one catalogue id per layer: the padded form is the stem tactic, the activation kernel after cuDNN's epilogue a variant of the fused call
        String tactic = pad == null ? GpuTactics.variant(GpuTactics.CONV_FUSED, algo.tacticId()) + act.variantSuffix()
                : GpuTactics.variant(GpuTactics.CONV_STEM, ChannelPad.VARIANT, algo.tacticId()) + act.variantSuffix();
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream s) {
                if (pad != null) pad.enqueue(s);
                k.runBiasActivation(algo, cx, wb, bb, zb, 1f, relu, yb, workspace.get(), s);
                act.apply(c, t, yb, elems, s);
            }
            @Override public void close() { k.close(); }
        };
    }
}
