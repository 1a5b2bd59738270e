package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;

/** Programs the random-graph tests once shrank a failure to, kept so the failure stays fixed. */
class RegressionTest {
    /** remove-identities + cse once collapsed two graph outputs into one value, losing an output name. */
    @Test void cleanupKeepsDistinctGraphOutputs() {
        Graph g = RandomGraphs.build(List.of(2, 1, 1, 1));
        List<String> names = g.outputs().stream().map(Value::name).toList();
        new PassManager().fullVerify(true).run(g, StandardPipelines.CLEANUP);
        assertEquals(names, g.outputs().stream().map(Value::name).toList());
        assertNotSame(g.outputs().get(0), g.outputs().get(1));
    }
}
