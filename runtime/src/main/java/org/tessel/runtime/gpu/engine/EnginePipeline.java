package org.tessel.runtime.gpu.engine;

import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.passes.StandardPipelines;

/** The pass pipeline a GPU engine of a given precision is built from (the layout policy is the difference). */
final class EnginePipeline {
    private EnginePipeline() {}

    static final String NCHW = StandardPipelines.STANDARD.replace(",assign-layouts,", ",assign-layouts{policy=nchw},");

    static String forPrecision(GpuEngine.Precision p, Graph g) {
        if (!NCHW.contains("policy=nchw")) throw new IllegalStateException("the standard pipeline no longer has ',assign-layouts,': " + StandardPipelines.STANDARD);
        if (p == GpuEngine.Precision.FP16 || hasGroupedConv(g)) return StandardPipelines.STANDARD;
        return NCHW;
    }

    static boolean hasGroupedConv(Graph g) {
        for (Node n : g.nodes()) {
            if (n.opName().equals("Conv") && n.attrs().getInt("group", 1) > 1) return true;
            if (n.body() != null && hasGroupedConv(n.body())) return true;
        }
        return false;
    }
}
