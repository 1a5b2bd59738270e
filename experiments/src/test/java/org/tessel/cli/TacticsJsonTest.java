package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.runtime.gpu.engine.GpuTactics;
import org.tessel.tactics.TacticCatalog;

/** `tessel tactics --json`: one record per catalogue tactic, and every GPU tactic implemented by the engine. */
class TacticsJsonTest {
    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Tessel.execute(args));
        } finally {
            System.setOut(old);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test void listsEveryTacticWithItsGpuImplementation() throws Exception {
        JsonNode tactics = new ObjectMapper().readTree(run("tactics", "--json")).get("tactics");
        assertTrue(tactics.isArray());
        List<String> ids = new ArrayList<>();
        for (JsonNode t : tactics) {
            String id = t.get("id").asText();
            ids.add(id);
            assertFalse(t.get("summary").asText().isBlank(), id);
            assertTrue(t.get("precisions").size() > 0, id);
            // one vocabulary: a GPU tactic is one the engine builds, and a CPU one is not
            assertEquals(t.get("backend").asText().equals("gpu"), t.get("gpuImplementation").asBoolean(), id);
        }
        assertEquals(TacticCatalog.global().all().stream().map(org.tessel.tactics.Tactic::id).toList(), ids);
        JsonNode softmax = find(tactics, "tessel.softmax");
        assertEquals(List.of("fp32", "tf32", "fp16", "bf16"), texts(softmax.get("precisions")));
        assertEquals(List.of("nchw", "nhwc"), texts(softmax.get("layouts")));
        assertEquals("tessel-builtin", softmax.get("provider").asText());
        JsonNode cpu = find(tactics, "cpu.reference");
        assertEquals("cpu", cpu.get("backend").asText());
        assertFalse(cpu.get("gpuImplementation").asBoolean());
        assertEquals(List.of("fp16"), texts(find(tactics, GpuTactics.ATTENTION_MMA).get("precisions")));
        // a tactic that declares its variants (the weight-only GEMV's kernel forms) lists them; one that declares none, none
        assertEquals(List.of("plain", "staged", "mma"), texts(find(tactics, GpuTactics.GEMV_WEIGHT_ONLY).get("variants")));
        assertEquals(List.of(), texts(softmax.get("variants")));
        assertFalse(find(tactics, GpuTactics.GEMV_WEIGHT_ONLY).get("variantsPriced").asBoolean(), "the GEMV's tuner picks its form");
        assertEquals(List.of("mma", "tiled"), texts(find(tactics, "tessel.attention.paged").get("variants")));
        assertTrue(find(tactics, "tessel.attention.paged").get("variantsPriced").asBoolean(), "the search prices the prefill forms");
    }

    private static JsonNode find(JsonNode tactics, String id) {
        for (JsonNode t : tactics) if (t.get("id").asText().equals(id)) return t;
        throw new AssertionError("no tactic " + id);
    }

    private static List<String> texts(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(x -> out.add(x.asText()));
        return out;
    }
}
