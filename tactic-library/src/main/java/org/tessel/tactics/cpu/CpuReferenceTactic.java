package org.tessel.tactics.cpu;

import java.util.EnumSet;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;

/**
 * Tactic that runs any node, fused or not, with the reference interpreter on the host, in FP32
 * and in logical order whatever the layout. It exists so every graph has a feasible plan and
 * whole engines run in CI; inside a GPU engine the cost model charges it the host round trip.
 */
public final class CpuReferenceTactic extends BaseTactic {
    public static final CpuReferenceTactic REFERENCE = new CpuReferenceTactic();

    private CpuReferenceTactic() {
        super("cpu.reference", "Tessel reference interpreter on the host: every op and fused body, FP32, any layout",
                Backend.CPU, EnumSet.of(Precision.FP32), EnumSet.of(Layout.ANY, Layout.NCHW, Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return true; }

    @Override protected String appliesToText() { return "every op"; }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // the host spec's FP32 rate and bandwidth are what the interpreter itself reaches
        return TacticFeatures.streaming(1, 1, 1);
    }
}
