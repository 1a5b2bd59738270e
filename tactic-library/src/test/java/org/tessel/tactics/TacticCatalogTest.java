package org.tessel.tactics;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.tactics.cpu.CpuReferenceTactic;

class TacticCatalogTest {
    /** The built-in ids are stable: plans, reports and calibration tables name them. Adding one means adding it here. */
    @Test void builtinIdsMatchTheGoldenList() throws Exception {
        List<String> actual = TacticCatalog.builtin().all().stream().map(Tactic::id).sorted().toList();
        Path golden = Path.of("src/test/resources/tactics/builtin-ids.txt");
        List<String> expected = Files.exists(golden) ? Files.readAllLines(golden).stream().filter(l -> !l.isBlank() && !l.startsWith("#")).toList() : List.of();
        if (!expected.equals(actual)) {
            Path out = Path.of("target/builtin-ids.actual.txt");
            Files.createDirectories(out.getParent());
            Files.write(out, actual);
            fail("built-in tactic ids changed; actual list written to " + out.toAbsolutePath() + " (copy it over " + golden + " if the change is meant)");
        }
    }

    @Test void idsAreUniqueAndWellFormed() {
        Set<String> seen = new HashSet<>();
        for (Tactic t : TacticCatalog.builtin().all()) {
            assertTrue(seen.add(t.id()), "duplicate " + t.id());
            assertTrue(t.id().matches("[a-z0-9_]+(\\.[a-z0-9_]+)+"), t.id());
            assertFalse(t.summary().isBlank(), t.id());
            assertFalse(t.precisions().isEmpty(), t.id());
        }
        TacticProvider twice = () -> List.of(CpuReferenceTactic.REFERENCE);
        var e = assertThrows(IllegalStateException.class, () -> TacticCatalog.load(List.of(new BuiltinTactics(), twice)));
        assertTrue(e.getMessage().startsWith("tactic 'cpu.reference' is defined twice: by provider 'tessel-builtin' and by '"), e.getMessage());
    }

    @Test void pluginsArriveThroughServiceLoader() {
        TacticCatalog global = TacticCatalog.global();
        assertTrue(global.has(TestPluginTactics.ID), "the test plugin is registered in META-INF/services");
        assertEquals("test-plugin", global.providerOf(TestPluginTactics.ID));
        assertEquals(BuiltinTactics.PROVIDER_NAME, global.providerOf("cudnn.conv.fused_bias_act"));
        assertFalse(TacticCatalog.builtin().has(TestPluginTactics.ID));
        NetworkBuilder b = new NetworkBuilder("p");
        Node relu = b.node("Relu", "relu", Attributes.empty(), 1, b.input("x", DType.F32, 1, 1024));
        assertTrue(global.candidates(relu).stream().anyMatch(t -> t.id().equals(TestPluginTactics.ID)));
        assertEquals("supports FP16 only (got fp32)".replace("supports ", ""), global.byId(TestPluginTactics.ID).whyNot(relu, Precision.FP32, Layout.ANY));
    }

    @Test void unknownIdsSaySo() {
        var e = assertThrows(IllegalArgumentException.class, () -> TacticCatalog.builtin().byId("cudnn.conv.fft"));
        assertEquals("unknown tactic 'cudnn.conv.fft'; did you mean one of [cudnn.conv.fused_bias_act, cudnn.deconv]?", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TacticCatalog.builtin().byId("nvidia"));
        assertTrue(e.getMessage().matches("unknown tactic 'nvidia'; \\d+ known \\(see `tessel tactics`\\)"), e.getMessage());
    }

    @Test void cpuTacticsOnlyOnACpuTarget() {
        NetworkBuilder b = new NetworkBuilder("p");
        Node relu = b.node("Relu", "relu", Attributes.empty(), 1, b.input("x", DType.F32, 1, 1024));
        TacticCatalog c = TacticCatalog.builtin();
        assertEquals(List.of("cpu.reference"), c.candidates(relu, DeviceSpec.cpuReference()).stream().map(Tactic::id).toList());
        assertEquals(List.of("tessel.eltwise", "cpu.reference"), c.candidates(relu, DeviceSpec.h100Sxm()).stream().map(Tactic::id).toList());
        assertEquals("FP32 only (got fp16)", CpuReferenceTactic.REFERENCE.whyNot(relu, Precision.FP16, Layout.ANY));
    }
}
