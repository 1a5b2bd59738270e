package org.tessel.tactics.recurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.CostModel;
import org.tessel.cost.DeviceSpec;
import org.tessel.cost.Precision;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;

/** tessel.recurrent's support rules (the ops, precisions, the shared-memory bound on the hidden size), workspace and pricing. */
class RecurrentTacticTest {
    static final RecurrentTactic T = RecurrentTactic.BLOCK_PER_SEQUENCE;

    /** A recurrent node over X [seq, batch, input] with zero weights. */
    static Node node(String op, int seq, int batch, int input, int hidden, String direction) {
        int g = switch (op) { case "RNN" -> 1; case "GRU" -> 3; default -> 4; }, d = direction.equals("bidirectional") ? 2 : 1;
        NetworkBuilder b = new NetworkBuilder("r");
        return b.node(op, "rec", Attributes.builder().put("hidden_size", (long) hidden).put("direction", direction).build(), 2,
                b.input("x", DType.F32, seq, batch, input), b.constant("w", Tensor.zeros(DType.F32, Shape.of(d, g * hidden, input))),
                b.constant("r", Tensor.zeros(DType.F32, Shape.of(d, g * hidden, hidden))));
    }

    @Test void runsTheThreeOpsAtFloatPrecisionsAndAnyHiddenSize() {
        for (String op : new String[] {"RNN", "GRU", "LSTM"}) {
            Node n = node(op, 5, 2, 8, 16, "bidirectional");
            assertTrue(T.appliesTo(n), op);
            for (Precision p : new Precision[] {Precision.FP32, Precision.FP16, Precision.BF16}) assertNull(T.whyNot(n, p, Layout.ANY), op + " " + p);
            assertEquals("supports FP32, FP16, BF16 only (got int8)", T.whyNot(n, Precision.INT8, Layout.ANY));
        }
        assertEquals(1755, RecurrentTactic.maxSharedHidden(4)); // 48 KiB / (4 bytes x (h, c, scratch + 4 gate rows))
        assertNull(T.whyNot(node("LSTM", 2, 1, 2, 1755, "forward"), Precision.FP32, Layout.ANY));
        assertNull(T.whyNot(node("LSTM", 2, 1, 2, 1756, "forward"), Precision.FP32, Layout.ANY));
        // past shared memory each (batch row, direction) block keeps its state (h, c, scratch, 4 gate rows) in workspace
        assertEquals(4L * 1 * 2 * 1 * 4 * 1755, T.workspaceBytes(node("LSTM", 2, 1, 2, 1755, "forward"), Precision.FP32));
        assertEquals(4L * 1 * 2 * 1 * 4 * 1756 + 4L * 1 * 1 * 7 * 1756, T.workspaceBytes(node("LSTM", 2, 1, 2, 1756, "forward"), Precision.FP32));
        NetworkBuilder b = new NetworkBuilder("m");
        Node matmul = b.node("MatMul", "mm", Attributes.empty(), 1, b.input("a", DType.F32, 2, 3), b.input("b", DType.F32, 3, 4));
        assertEquals("tessel.recurrent implements RNN, GRU, LSTM, not MatMul", T.whyNot(matmul, Precision.FP32, Layout.ANY));
    }

    @Test void theWorkspaceIsTheF32ProjectionAndTheRecurrenceIsPricedAsASerialChain() {
        Node n = node("LSTM", 24, 1, 512, 256, "bidirectional");
        assertEquals(4L * 2 * 24 * 1 * 4 * 256, T.workspaceBytes(n, Precision.FP32));
        CostModel m = new CostModel(DeviceSpec.h100Sxm());
        double one = T.cost(m, n, Precision.FP32, Layout.ANY, true).totalUs();
        // more batch rows fill more SMs: 64 rows cost far less than 64 times one row
        double many = T.cost(m, node("LSTM", 24, 64, 512, 256, "bidirectional"), Precision.FP32, Layout.ANY, true).totalUs();
        assertTrue(many < 8 * one, one + " us for one row, " + many + " us for 64");
        // the same arithmetic in one long sequence costs more than spread over the batch
        double longSeq = T.cost(m, node("LSTM", 24 * 64, 1, 512, 256, "bidirectional"), Precision.FP32, Layout.ANY, true).totalUs();
        assertTrue(longSeq > 4 * many, longSeq + " us for a 1536-step sequence, " + many + " us for 64 rows of 24");
    }
}
