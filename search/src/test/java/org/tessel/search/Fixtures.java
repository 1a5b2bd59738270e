package org.tessel.search;

import java.util.Map;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.FusionDecision;
import org.tessel.search.domain.NodeDecision;
import org.tessel.search.domain.Use;

/** Role-named building blocks for constraint and evaluator tests. */
public final class Fixtures {
    private Fixtures() {}

    public static final Format FP32_NCHW = new Format(Precision.FP32, Layout.NCHW);
    public static final Format FP16_NHWC = new Format(Precision.FP16, Layout.NHWC);
    public static final Format FP16_NCHW = new Format(Precision.FP16, Layout.NCHW);

    public static Choice choice(int node, String tactic, Format f, long latencyPs) {
        return new Choice(node, tactic, f.precision(), f.layout(), latencyPs, latencyPs / 1e6, latencyPs / 2e6, 0, 0, null);
    }

    public static Choice choiceWithWorkspace(int node, Format f, long latencyPs, long workspace) {
        return new Choice(node, "ws", f.precision(), f.layout(), latencyPs, latencyPs / 1e6, 0, 0, workspace, null);
    }

    public static Choice unsupported(int node, Format f, String why) {
        return new Choice(node, "picky", f.precision(), f.layout(), 0, 0, 0, 0, 0, why);
    }

    public static NodeDecision node(int index, String name, Choice chosen) {
        return new NodeDecision(index, name, "Op", java.util.List.of(chosen), 0).with(chosen);
    }

    public static FusionDecision fusion(int index, int[] members, boolean fused, Map<Format, FusedChoice> byFormat) {
        return new FusionDecision(index, "conv_bias_act", members, byFormat, true).with(fused);
    }

    public static FusedChoice fused(Format f, long latencyPs) {
        return new FusedChoice("fused.kernel", f.precision(), f.layout(), latencyPs, latencyPs / 1e6, 0, 0, 0);
    }

    /** Reformat costs 1000 ps per storage index + 1000; a cast from a to b costs 100 * (4a + b + 1) ps. */
    public static long[] reformats() { return new long[] {1000, 2000, 3000, 4000}; }

    public static long[][] casts() {
        long[][] c = new long[4][4];
        for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) c[a][b] = a == b ? 0 : 100L * (4 * a + b + 1);
        return c;
    }

    public static final TensorType IMAGE = TensorType.of(DType.F32, 1, 8, 4, 4);

    public static Use edge(int id, int producer, int consumer) {
        return new Use(id, "v" + id, producer, consumer, IMAGE, true, true, null, null, reformats(), casts());
    }

    public static Use fromInput(int id, int consumer) {
        return new Use(id, "in" + id, -1, consumer, IMAGE, true, true, FP32_NCHW, null, reformats(), casts());
    }

    public static Use toOutput(int id, int producer) {
        return new Use(id, "out" + id, producer, -1, IMAGE, true, true, null, FP32_NCHW, reformats(), casts());
    }
}
