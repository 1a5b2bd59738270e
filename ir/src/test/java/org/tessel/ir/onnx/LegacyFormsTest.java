package org.tessel.ir.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrValue;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.onnx.LegacyForms.PendingNode;

/** The opset rewrites on their own, independent of which ops are registered. */
class LegacyFormsTest {
    /** Records the constants a rewrite adds; every value is an f32 [1,3,4,4] unless given a type. */
    private static final class Ctx implements LegacyForms.Context {
        final Map<String, Tensor> constants = new LinkedHashMap<>();
        final Map<String, TensorType> types = new HashMap<>();
        final Set<String> used;

        Ctx(String... used) { this.used = Set.of(used); }

        @Override public TensorType typeOf(String v) { return constants.containsKey(v) ? constants.get(v).type() : types.getOrDefault(v, TensorType.of(DType.F32, 1, 3, 4, 4)); }
        @Override public String constant(String base, Tensor t) { constants.put(base, t); return base; }
        @Override public String freshValue(String base) { return base; }
        @Override public boolean isUsed(String v) { return used.contains(v); }
        @Override public String where() { return "node 'n' (Op)"; }
    }

    private static PendingNode node(String op, List<String> ins, Map<String, AttrValue> attrs, String... outs) {
        return new PendingNode("n", op, "", new ArrayList<>(ins), attrs, List.of(outs.length == 0 ? new String[] {"y"} : outs));
    }

    private static PendingNode one(List<PendingNode> l) {
        assertEquals(1, l.size(), l.toString());
        return l.getFirst();
    }

    private static long[] longs(Ctx c, String name) { return c.constants.get(name).longs(); }

    @Test void currentFormsPassThroughUnchanged() {
        Ctx c = new Ctx();
        PendingNode n = node("Squeeze", List.of("x", "axes"), Map.of());
        assertEquals(n, one(LegacyForms.rewrite(n, 13, c)));
        assertTrue(c.constants.isEmpty());
    }

    @Test void topKAttributeBecomesAOneElementInput() {
        Ctx c = new Ctx();
        PendingNode r = one(LegacyForms.rewrite(node("TopK", List.of("x"), Map.of("k", AttrValue.of(3L), "axis", AttrValue.of(-1L)), "v", "i"), 9, c));
        assertEquals(List.of("x", "n_k"), r.inputs());
        assertArrayEquals(new long[] {3}, longs(c, "n_k"));
        assertEquals(Map.of("axis", AttrValue.of(-1L)), r.attrs());
    }

    @Test void scatterBecomesScatterElements() {
        PendingNode r = one(LegacyForms.rewrite(node("Scatter", List.of("d", "i", "u"), Map.of("axis", AttrValue.of(1L))), 10, new Ctx()));
        assertEquals("ScatterElements", r.opType());
        assertEquals(List.of("d", "i", "u"), r.inputs());
    }

    @Test void gridSampleModesAreRenamedBeforeOpset20() {
        PendingNode r = one(LegacyForms.rewrite(node("GridSample", List.of("x", "g"), Map.of("mode", AttrValue.of("bicubic"))), 16, new Ctx()));
        assertEquals(AttrValue.of("cubic"), r.attrs().get("mode"));
        PendingNode cur = one(LegacyForms.rewrite(node("GridSample", List.of("x", "g"), Map.of("mode", AttrValue.of("cubic"))), 20, new Ctx()));
        assertEquals(AttrValue.of("cubic"), cur.attrs().get("mode"));
    }

    @Test void padAttributesOfOpset2BecomeInputs() {
        Ctx c = new Ctx();
        PendingNode r = one(LegacyForms.rewrite(node("Pad", List.of("x"), Map.of("pads", AttrValue.of(0L, 0L, 1L, 1L, 0L, 0L, 1L, 1L),
                "mode", AttrValue.of("constant"), "value", AttrValue.of(1.5f))), 2, c));
        assertEquals(List.of("x", "n_pads", "n_value"), r.inputs());
        assertArrayEquals(new long[] {0, 0, 1, 1, 0, 0, 1, 1}, longs(c, "n_pads"));
        assertEquals(TensorType.of(DType.F32), c.constants.get("n_value").type());
        assertEquals(1.5, c.constants.get("n_value").getDouble(0));
        assertEquals(Map.of("mode", AttrValue.of("constant")), r.attrs());
    }

    @Test void resize10TakesScalesAsItsSecondInputWithAsymmetricCoordinates() {
        PendingNode r = one(LegacyForms.rewrite(node("Resize", List.of("x", "scales"), Map.of("mode", AttrValue.of("nearest"))), 10, new Ctx()));
        assertEquals(Arrays.asList("x", null, "scales"), r.inputs());
        assertEquals(AttrValue.of("asymmetric"), r.attrs().get("coordinate_transformation_mode"));
        assertEquals(AttrValue.of("floor"), r.attrs().get("nearest_mode"));
    }

    @Test void resize11EmptyRoiAndScalesBecomeAbsent() {
        Ctx c = new Ctx();
        c.types.put("roi", TensorType.of(DType.F32, 0));
        c.types.put("scales", TensorType.of(DType.F32, 0));
        c.types.put("sizes", TensorType.of(DType.I64, 4));
        PendingNode r = one(LegacyForms.rewrite(node("Resize", List.of("x", "roi", "scales", "sizes"), Map.of()), 11, c));
        assertEquals(Arrays.asList("x", null, null, "sizes"), r.inputs());
        assertTrue(r.attrs().isEmpty(), "opset 11's defaults are the current ones");
    }

    @Test void upsample7ScalesAttributeBecomesAResizeInput() {
        Ctx c = new Ctx();
        PendingNode r = one(LegacyForms.rewrite(node("Upsample", List.of("x"), Map.of("scales", AttrValue.of(1f, 1f, 2f, 2f), "mode", AttrValue.of("linear"))), 7, c));
        assertEquals("Resize", r.opType());
        assertEquals(Arrays.asList("x", null, "n_scales"), r.inputs());
        assertArrayEquals(new float[] {1, 1, 2, 2}, c.constants.get("n_scales").floats());
        assertEquals(AttrValue.of("linear"), r.attrs().get("mode"));
        assertNull(r.attrs().get("nearest_mode"));
    }

    @Test void castTargetNamedByStringBeforeOpset6() {
        PendingNode r = one(LegacyForms.rewrite(node("Cast", List.of("x"), Map.of("to", AttrValue.of("FLOAT16"))), 5, new Ctx()));
        assertEquals(AttrValue.of(10L), r.attrs().get("to"));
    }

    @Test void legacyBroadcastIsDroppedAndAxisRefused() {
        PendingNode r = one(LegacyForms.rewrite(node("Add", List.of("a", "b"), Map.of("broadcast", AttrValue.of(1L))), 6, new Ctx()));
        assertTrue(r.attrs().isEmpty());
        OnnxImportException e = assertThrows(OnnxImportException.class, () -> LegacyForms.rewrite(
                node("Add", List.of("a", "b"), Map.of("broadcast", AttrValue.of(1L), "axis", AttrValue.of(1L))), 6, new Ctx()));
        assertEquals(OnnxImportException.Kind.UNSUPPORTED_FEATURE, e.kind());
        assertTrue(e.getMessage().startsWith("node 'n' (Op): broadcasting along attribute 'axis' (opset < 7)"), e.getMessage());
    }

    @Test void batchNormDropsOldAttributesAndUnusedStatisticsOutputs() {
        Map<String, AttrValue> old = Map.of("spatial", AttrValue.of(1L), "is_test", AttrValue.of(1L), "consumed_inputs", AttrValue.of(0L, 0L), "epsilon", AttrValue.of(1e-5f));
        PendingNode r = one(LegacyForms.rewrite(node("BatchNormalization", List.of("x", "s", "b", "m", "v"), old, "y", "mean", "var"), 6, new Ctx()));
        assertEquals(List.of("y"), r.outputs());
        assertEquals(Map.of("epsilon", AttrValue.of(1e-5f)), r.attrs());
        PendingNode kept = one(LegacyForms.rewrite(node("BatchNormalization", List.of("x", "s", "b", "m", "v"), Map.of(), "y", "mean"), 9, new Ctx("mean")));
        assertEquals(List.of("y", "mean"), kept.outputs(), "a statistics output someone reads stays for the op to judge");
    }

    @Test void reductionsMoveAxesAtTheirOwnOpset() {
        Ctx c = new Ctx();
        PendingNode mean17 = one(LegacyForms.rewrite(node("ReduceMean", List.of("x"), Map.of("axes", AttrValue.of(2L, 3L))), 17, c));
        assertEquals(List.of("x", "n_axes"), mean17.inputs());
        PendingNode sum13 = one(LegacyForms.rewrite(node("ReduceSum", List.of("x", "axes"), Map.of()), 13, new Ctx()));
        assertEquals(List.of("x", "axes"), sum13.inputs());
        PendingNode max18 = one(LegacyForms.rewrite(node("ReduceMax", List.of("x"), Map.of("keepdims", AttrValue.of(0L))), 18, new Ctx()));
        assertEquals(List.of("x"), max18.inputs());
    }

    @Test void hardmaxOfOpset11OnAMiddleAxisBecomesThreeNodes() {
        Ctx c = new Ctx();
        List<PendingNode> r = LegacyForms.rewrite(node("Hardmax", List.of("x"), Map.of("axis", AttrValue.of(-3L))), 11, c);
        assertEquals(List.of("Flatten", "Hardmax", "Reshape"), r.stream().map(PendingNode::opType).toList());
        assertEquals(AttrValue.of(1L), r.get(0).attrs().get("axis"), "axis -3 of rank 4 is 1");
        assertEquals(AttrValue.of(1L), r.get(1).attrs().get("axis"));
        assertEquals(List.of("y"), r.get(2).outputs());
        assertArrayEquals(new long[] {1, 3, 4, 4}, longs(c, "n_shape"));
    }
}
