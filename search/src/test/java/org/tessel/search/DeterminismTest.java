package org.tessel.search;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.FusionDecision;

/**
 * The solver builds moves by iterating a fusion's formats, so that order must be the order given:
 * Map.copyOf iterates in an order salted per JVM, which once made separate runs under one seed
 * stop after different move counts (17k-40k on ResNet-50).
 */
class DeterminismTest {
    @Test void fusedFormatsKeepTheirOrder() {
        Map<Format, FusedChoice> m = new LinkedHashMap<>();
        List<Format> order = List.of(new Format(Precision.FP16, Layout.NHWC), new Format(Precision.FP32, Layout.NCHW),
                new Format(Precision.BF16, Layout.NHWC), new Format(Precision.FP16, Layout.NCHW), new Format(Precision.TF32, Layout.NHWC));
        for (Format f : order) m.put(f, new FusedChoice("t", f.precision(), f.layout(), 1, 0, 0, 0, 0));
        FusionDecision d = new FusionDecision(0, "conv_bias_act", new int[] {0, 1}, m, true);
        assertEquals(order, List.copyOf(d.fusedChoices().keySet()));
        var c = new SearchProblem.Candidate(0, "conv_bias_act", new int[] {0, 1}, m, true);
        assertEquals(order, List.copyOf(c.fused().keySet()));
    }
}
