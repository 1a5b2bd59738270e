package org.tessel.tactics.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/** A plan file says exactly what it means: a key given twice or a key plans do not have is refused, named, not ignored. */
class EnginePlanJsonStrictTest {
    private static final EnginePlan PLAN = new EnginePlan("m", "joint", "h100", 0, List.of(),
            List.of(new PlannedNode("relu", "Relu", "tessel.eltwise", "", Precision.FP16, Layout.ANY, 0, 1.5)), List.of(), 1.5, 1.0);

    @Test void roundTrips() {
        assertEquals(PLAN, EnginePlanJson.read(EnginePlanJson.write(PLAN), "p.json"));
    }

    @Test void aKeyGivenTwiceIsRefused() {
        String json = EnginePlanJson.write(PLAN).replace("\"precision\" : \"fp16\",", "\"precision\" : \"fp16\",\n    \"precision\" : \"fp32\",");
        PlanException e = assertThrows(PlanException.class, () -> EnginePlanJson.read(json, "p.json"));
        assertTrue(e.getMessage().startsWith("p.json: ") && e.getMessage().contains("precision") && e.getMessage().contains("line"), e.getMessage());
    }

    @Test void anUnknownKeyIsRefusedNamingItsPlace() {
        String node = EnginePlanJson.write(PLAN).replace("\"tactic\" : \"tessel.eltwise\",", "\"tactic\" : \"tessel.eltwise\",\n    \"precison\" : \"fp32\",");
        PlanException e = assertThrows(PlanException.class, () -> EnginePlanJson.read(node, "p.json"));
        assertTrue(e.getMessage().contains("node 'relu'") && e.getMessage().contains("unknown key 'precison'"), e.getMessage());
        String root = EnginePlanJson.write(PLAN).replaceFirst("\\{", "{\n  \"strategie\" : \"x\",");
        e = assertThrows(PlanException.class, () -> EnginePlanJson.read(root, "p.json"));
        assertTrue(e.getMessage().contains("unknown key 'strategie'"), e.getMessage());
    }
}
