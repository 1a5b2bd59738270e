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
 * Tactic for depthwise convolution (one filter per channel), Tessel's own memory-bound kernel:
 * each thread keeps a kernel-sized window in registers, so bias and any activation of a fused
 * conv_bias_act chain cost nothing extra. One variant per layout (see {@link ConvTactics}).
 */
public final class DepthwiseConvTactic extends BaseTactic {
    /** Largest kernel side the register window holds. */
    static final int MAX_KERNEL = 7;

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
        return "conv_bias_act".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, CONV) != null;
    }

    @Override protected String appliesToText() { return "depthwise Conv and fused conv_bias_act"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        ConvGeometry g = ConvGeometry.of(NodeFacts.anchor(n, CONV));
        if (!g.depthwise())
            return "needs a depthwise convolution (group == input channels == output channels; got group " + g.group() + ", " + g.cin() + " -> " + g.cout() + " channels)";
        if (g.spatialRank() != 2) return "2-D only (got " + g.spatialRank() + "-D)";
        for (long k : g.kernel()) if (k > MAX_KERNEL) return "kernel " + g.kernelText() + " exceeds the " + MAX_KERNEL + "x" + MAX_KERNEL + " register window";
        if (config.layout == Layout.NHWC && (p == Precision.FP16 || p == Precision.BF16) && g.cin() % 2 != 0)
            return "half2 loads need an even channel count (got " + g.cin() + ")";
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return TacticFeatures.streaming(config.computeEfficiency, config.memoryEfficiency, 1);
    }
}
