package org.tessel.tactics;

import java.util.List;
import java.util.Set;
import org.tessel.api.Trait;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/**
 * Questions tactics ask about a node: is it fused and of which kind, which body node anchors it,
 * which activation it ends in, whether its layout matters, and a convolution's geometry.
 */
public final class NodeFacts {
    private NodeFacts() {}

    /** Activations the fusion patterns take (mirrors {@code FusionPatterns.ACTIVATIONS} in passes, which this module cannot see). */
    public static final Set<String> ACTIVATIONS = Set.of("Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "PRelu");

    /**
     * Activations the GPU engine applies after a floating-point convolution's epilogue with its activation kernel (one
     * more launch over the output; the runtime's {@code kernels.Activation}): all of {@link #ACTIVATIONS} but ReLU, which
     * the epilogues apply themselves, and PRelu, whose slopes are a tensor.
     */
    public static final Set<String> POST_ACTIVATIONS = Set.of("Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Gelu");

    /** True when the fused node ends in an activation the GPU engine applies after the epilogue ({@link #POST_ACTIVATIONS}). */
    public static boolean postActivation(Node n) {
        Node act = activation(n);
        return act != null && POST_ACTIVATIONS.contains(act.opName());
    }

    public static boolean isFused(Node n) { return n.body() != null; }

    /** The fused node's pattern kind ("conv_bias_act", "gemm_bias_act", "attention", "eltwise"), or null for an unfused node. */
    public static String fusedKind(Node n) { return n.body() == null ? null : n.attrs().getString("kind", "custom"); }

    /** The node itself, or for a fused node the first body node of one of these ops; null when there is none. */
    public static Node anchor(Node n, Set<String> ops) {
        if (n.body() == null) return ops.contains(n.opName()) ? n : null;
        for (Node b : n.body().nodes()) if (ops.contains(b.opName())) return b;
        return null;
    }

    /** The activation a fused node ends in, or null. */
    public static Node activation(Node n) {
        if (n.body() == null) return null;
        List<Node> ns = n.body().nodes();
        for (int i = ns.size() - 1; i >= 0; i--) if (ACTIVATIONS.contains(ns.get(i).opName())) return ns.get(i);
        return null;
    }

    /** For a value in a fused node's body: the outer value it binds to when it is a body input; null otherwise. */
    public static Value outer(Node fused, Value inBody) {
        if (fused.body() == null || inBody == null) return null;
        int i = fused.body().inputs().indexOf(inBody);
        return i >= 0 && i < fused.numInputs() ? fused.input(i) : null;
    }

    /** True when a body value is (bound to) a constant: weights or a bias. */
    public static boolean isConstant(Node fused, Value v) {
        if (v == null) return false;
        if (v.isConstant()) return true;
        Value o = outer(fused, v);
        return o != null && o.isConstant();
    }

    /**
     * Why a convolution's filters or bias are not constants of node {@code n} (a Conv or the fused node around
     * {@code conv}), as tactics that pack them at build time refuse; null when both are (or there is no bias).
     */
    public static String nonConstantConvOperands(Node n, Node conv) {
        if (!isConstant(n, conv.input(1))) return "takes constant filters (%" + conv.input(1).name() + " is computed)";
        if (conv.numInputs() > 2 && conv.input(2) != null && !isConstant(n, conv.input(2)))
            return "takes a constant bias (%" + conv.input(2).name() + " is computed)";
        return null;
    }

    /** True when a fused conv chain has an Add of two computed tensors (a residual). */
    public static boolean hasResidualAdd(Node fused) {
        if (fused.body() == null) return false;
        for (Node b : fused.body().nodes())
            if (b.opName().equals("Add") && !isConstant(fused, b.input(0)) && !isConstant(fused, b.input(1))) return true;
        return false;
    }

    /** True when the node's op (or a fused body op) works on image tensors with a channel axis, so NCHW vs NHWC matters. */
    public static boolean layoutMatters(Node n) {
        if (n.op().has(Trait.LAYOUT_SENSITIVE) || n.opName().equals("tessel.Reformat")) return true;
        if (n.body() != null) for (Node b : n.body().nodes()) if (layoutMatters(b)) return true;
        return false;
    }

    /** True when some input or output is a floating tensor (so a compute precision means something). */
    public static boolean floating(Node n) {
        for (Value v : n.inputs()) if (v != null && v.type().dtype().isFloating()) return true;
        for (Value v : n.outputs()) if (v.type().dtype().isFloating()) return true;
        return false;
    }

    /** True for a fused conv_bias_act node whose body holds its Conv (what the convolution tactics take besides a bare Conv). */
    public static boolean isConvBiasAct(Node n) {
        return "conv_bias_act".equals(fusedKind(n)) && anchor(n, Set.of("Conv")) != null;
    }

    /** True for a bare Conv or a fused conv_bias_act: what the GPU's GEMM-style convolution tactics take. */
    public static boolean isConvOrConvBiasAct(Node n) {
        return n.body() != null ? isConvBiasAct(n) : n.opName().equals("Conv");
    }

    /** Why convolution {@code conv} of geometry {@code g} is not 2-D with explicit pads (null when it is): the GEMM-style tactics' common limit. */
    public static String planarWhyNot(Node conv, ConvGeometry g) {
        if (g.spatialRank() != 2) return "2-D only (got " + g.spatialRank() + "-D)";
        String autoPad = conv.attrs().getString("auto_pad", "NOTSET");
        return autoPad.equals("NOTSET") || autoPad.equals("VALID") ? null : "needs explicit pads (got auto_pad=" + autoPad + ")";
    }

    /** The geometry of a Conv node, with ONNX defaults (stride and dilation 1, group 1). */
    public record ConvGeometry(int spatialRank, long cin, long cout, long group, long[] kernel, long[] strides, long[] dilations) {
        public static ConvGeometry of(Node conv) {
            var w = conv.input(1).type().shape();
            int r = w.rank() - 2;
            long[] k = new long[r];
            for (int i = 0; i < r; i++) k[i] = w.dim(2 + i);
            long[] ones = new long[r];
            java.util.Arrays.fill(ones, 1);
            long g = conv.attrs().getInt("group", 1);
            return new ConvGeometry(r, conv.input(0).type().shape().dim(1), w.dim(0), g, k,
                    conv.attrs().getInts("strides", ones), conv.attrs().getInts("dilations", ones));
        }

        /** One group per input channel, one output channel per group. */
        public boolean depthwise() { return group > 1 && group == cin && cout == cin; }

        public boolean kernelIs(long... dims) { return java.util.Arrays.equals(kernel, dims); }

        public boolean unitStride() { for (long s : strides) if (s != 1) return false; return true; }

        public boolean unitDilation() { for (long d : dilations) if (d != 1) return false; return true; }

        public long kernelElements() { long e = 1; for (long d : kernel) e *= d; return e; }

        public String kernelText() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < kernel.length; i++) sb.append(i == 0 ? "" : "x").append(kernel[i]);
            return sb.toString();
        }
    }
}
