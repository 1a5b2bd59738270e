package org.tessel.tactics;

import java.util.EnumSet;
import java.util.List;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/** A plugin provider, registered in the test class path's META-INF/services: proves the SPI works. */
public final class TestPluginTactics implements TacticProvider {
    public static final String ID = "test.plugin.relu";

    @Override public String providerName() { return "test-plugin"; }

    @Override public List<Tactic> tactics() {
        return List.of(new StreamingTactic(new StreamingTactic.Config(ID, "a plugin's Relu kernel", "Relu",
                n -> n.body() == null && n.opName().equals("Relu"), EnumSet.of(Precision.FP16), EnumSet.of(Layout.NCHW, Layout.NHWC),
                null, 0.5, 0.95, 1, false)));
    }
}
