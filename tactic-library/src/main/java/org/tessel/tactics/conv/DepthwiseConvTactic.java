package org.tessel.tactics.conv;

import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * Tactic for depthwise convolution (one filter per channel), Tessel's own memory-bound NHWC kernel
 * (the GPU engine's DepthwiseConvNhwc): a thread per output pixel and 8 channels (one where it cannot load 16 bytes),
 * bias and a clamp (Relu, Clip) fused, so a conv_bias_act chain without a residual costs nothing extra.
 */
public final class DepthwiseConvTactic extends BaseTactic {
    public record Config(String id, String summary, Layout layout, Set<Precision> precisions, double computeEfficiency, double memoryEfficiency) {}

    private static final Set<String> CONV = Set.of("Conv");
    private final Config config;

    public DepthwiseConvTactic(Config c) {
        super(c.id(), c.summary(), Backend.GPU, c.precisions(), Set.of(c.layout()));
        this.config = c;
    }

    public Config config() { return config; }

    @Override public boolean appliesTo(Node n) {
        if (n.body() == null) return n.opName().equals("Conv");
        return NodeFacts.isConvBiasAct(n);
    }

    @Override protected String appliesToText() { return "depthwise Conv and fused conv_bias_act"; }

    /** True when the GPU engine hands a convolution of this geometry to the depthwise kernel (if it has no residual). */
    static boolean engineDepthwise(ConvGeometry g, Layout l) { return l == Layout.NHWC && g.spatialRank() == 2 && g.depthwise(); }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        ConvGeometry g = ConvGeometry.of(NodeFacts.anchor(n, CONV));
        if (!g.depthwise())
            return "needs a depthwise convolution (group == input channels == output channels; got group " + g.group() + ", " + g.cin() + " -> " + g.cout() + " channels)";
        if (g.spatialRank() != 2) return "2-D only (got " + g.spatialRank() + "-D)";
        // the kernel's epilogue is bias then a clamp (Relu, Clip); another activation runs as the activation kernel after it
        if (NodeFacts.hasResidualAdd(n)) return "the depthwise kernel takes no residual Add (cuDNN's fused call does)";
        if (n.body() != null)
            for (Node b : n.body().nodes())
                if (!b.opName().equals("Conv") && !b.opName().equals("Add") && !b.opName().equals("Relu") && !NodeFacts.POST_ACTIVATIONS.contains(b.opName()))
                    return "the depthwise kernel fuses bias and Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu or Gelu (got " + b.opName() + ")";
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // Clip is the kernel's own clamp; another activation is one more pass over the output
        Node act = NodeFacts.activation(n);
        boolean post = act != null && !act.opName().equals("Clip") && NodeFacts.POST_ACTIVATIONS.contains(act.opName());
        return TacticFeatures.streaming(config.computeEfficiency, config.memoryEfficiency, post ? 2 : 1);
    }
}
