package org.tessel.tactics;

import java.util.List;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;

/** Small graphs for tactic tests: one conv or GEMM, alone or with its bias and activation fused. */
final class Nodes {
    private Nodes() {}

    /** A 2-D conv of an n x c x hw x hw input with k filters of r x r, stride s, padding r/2, groups g. */
    static Node conv(int n, int c, int hw, int k, int r, int s, int g) {
        NetworkBuilder b = new NetworkBuilder("conv");
        Value x = b.input("x", DType.F32, n, c, hw, hw);
        return b.node("Conv", "conv", Attributes.builder().put("strides", s, s).put("pads", r / 2, r / 2, r / 2, r / 2).put("group", (long) g).build(),
                1, x, b.randomWeights("w", k, c / g, r, r));
    }

    /** conv + per-channel bias Add + activation (null for none), fused as conv_bias_act. */
    static Node convBiasAct(int n, int c, int hw, int k, int r, int s, int g, String act, Attributes actAttrs) {
        NetworkBuilder b = new NetworkBuilder("cba");
        Value x = b.input("x", DType.F32, n, c, hw, hw);
        Node conv = b.node("Conv", "conv", Attributes.builder().put("strides", s, s).put("pads", r / 2, r / 2, r / 2, r / 2).put("group", (long) g).build(),
                1, x, b.randomWeights("w", k, c / g, r, r));
        Node add = b.node("Add", "bias", Attributes.empty(), 1, conv.output(), b.randomWeights("b", 1, k, 1, 1));
        Node last = add;
        if (act != null) last = b.node(act, "act", actAttrs, 1, act.equals("Clip") ? new Value[] {add.output(), b.scalar("lo", DType.F32, 0), b.scalar("hi", DType.F32, 6)}
                : act.equals("PRelu") ? new Value[] {add.output(), b.randomWeights("slope", 1, k, 1, 1)} : new Value[] {add.output()});
        b.output(last.output());
        Graph g2 = b.build();
        return FusionPreview.of(g2, "conv_bias_act", act == null ? List.of(conv, add) : List.of(conv, add, last));
    }

    /** An m x k times k x n MatMul, optionally followed by a bias Add and an activation, fused as gemm_bias_act. */
    static Node gemm(int m, int n, int k) {
        NetworkBuilder b = new NetworkBuilder("gemm");
        Value a = b.input("a", DType.F32, m, k);
        return b.node("MatMul", "mm", Attributes.empty(), 1, a, b.randomWeights("w", k, n));
    }

    /** An ONNX Gemm node (what the engine runs unfused), A [m,k] times constant B [k,n]. */
    static Node gemmOp(int m, int n, int k) {
        NetworkBuilder b = new NetworkBuilder("gemm");
        Value a = b.input("a", DType.F32, m, k);
        return b.node("Gemm", "g", Attributes.empty(), 1, a, b.randomWeights("w", k, n));
    }

    static Node gemmBiasAct(int m, int n, int k, String act, Attributes actAttrs) {
        NetworkBuilder b = new NetworkBuilder("gba");
        Value a = b.input("a", DType.F32, m, k);
        Node mm = b.node("MatMul", "mm", Attributes.empty(), 1, a, b.randomWeights("w", k, n));
        Node add = b.node("Add", "bias", Attributes.empty(), 1, mm.output(), b.randomWeights("b", n));
        Node last = act == null ? add : b.node(act, "act", actAttrs, 1, add.output());
        b.output(last.output());
        return FusionPreview.of(b.build(), "gemm_bias_act", act == null ? List.of(mm, add) : List.of(mm, add, last));
    }
}
