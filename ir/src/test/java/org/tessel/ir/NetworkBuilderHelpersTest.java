package org.tessel.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** The typed helpers and naming the model zoo added to the network-definition API. */
class NetworkBuilderHelpersTest {
    @Test
    void pendingNameGoesToTheNextNodeOnlyWithinTheScope() {
        NetworkBuilder b = new NetworkBuilder("names");
        Value x = b.input("x", DType.F32, 1, 4);
        b.scope("layer1.0.");
        Value r = b.name("relu1").relu(x);
        Value s = b.sigmoid(r);
        Graph g = b.output(s).build();
        assertEquals(List.of("layer1.0.relu1", "layer1.0.sigmoid"), g.nodes().stream().map(Node::name).toList());
        assertEquals("layer1.0.relu1", r.name());
    }

    @Test
    void pendingNameIsUsedUpByAFailedNode() {
        NetworkBuilder b = new NetworkBuilder("fail");
        Value x = b.input("x", DType.F32, 2, 3);
        Value y = b.input("y", DType.F32, 4, 5);
        var e = assertThrows(IrException.class, () -> b.name("bad").matmul(x, y));
        assertTrue(e.getMessage().contains("node 'bad' (MatMul)"), e.getMessage());
        assertEquals("relu", b.relu(x).producer().name());
    }

    @Test
    void embeddingLookupCastExpandSqueezeAndLinear() {
        NetworkBuilder b = new NetworkBuilder("helpers");
        Value ids = b.input("ids", DType.I64, 2, 3);
        Value table = b.constant("table", Tensor.ofFloats(Shape.of(4, 2), 0, 1, 10, 11, 20, 21, 30, 31));
        Value emb = b.gather(table, ids, 0);                                  // [2,3,2]
        Value w = b.constant("w", Tensor.ofFloats(Shape.of(2, 1), 1, 2));
        Value lin = b.linear(emb, w, b.constant("bias", Tensor.ofFloats(Shape.of(1), 0.5f)));   // [2,3,1]
        Value sq = b.squeeze(lin, 2);                                        // [2,3]
        Value mask = b.cast(b.unsqueeze(ids, 1), DType.F32);                 // [2,1,3]
        Value ex = b.expand(b.scalar("one", DType.F32, 1), 2, 3);            // [2,3]
        Graph g = b.output(sq, mask, b.add(ex, sq)).build();
        assertEquals(Shape.of(2, 3), sq.type().shape());
        assertEquals(Shape.of(2, 1, 3), mask.type().shape());
        assertEquals(DType.F32, mask.type().dtype());

        Tensor in = Tensor.ofLongs(DType.I64, Shape.of(2, 3), 0, 1, 2, 3, 3, 0);
        List<Tensor> out = new ReferenceInterpreter().run(g, List.of(in));
        // row k of the table is (10k, 10k + 1): dot with (1, 2) plus 0.5 gives 30k + 2.5
        float[] want = {2.5f, 32.5f, 62.5f, 92.5f, 92.5f, 2.5f};
        for (int i = 0; i < 6; i++) assertEquals(want[i], out.get(0).getDouble(i), 1e-6);
        for (int i = 0; i < 6; i++) assertEquals(in.getLong(i), out.get(1).getDouble(i), 0);
        for (int i = 0; i < 6; i++) assertEquals(want[i] + 1, out.get(2).getDouble(i), 1e-6);
    }

    @Test
    void initializersAreSeededAndScaled() {
        NetworkBuilder a = new NetworkBuilder("a", OpRegistry.global(), 3);
        NetworkBuilder a2 = new NetworkBuilder("a", OpRegistry.global(), 3);
        NetworkBuilder c = new NetworkBuilder("c", OpRegistry.global(), 4);
        Tensor t = a.heNormal("w", 50, 50, 400).constantValue();
        assertTrue(t.dataEquals(a2.heNormal("w", 50, 50, 400).constantValue()), "same seed, same weights");
        assertFalse(t.dataEquals(c.heNormal("w", 50, 50, 400).constantValue()), "other seed, other weights");
        double sq = 0, mean = 0;
        for (int i = 0; i < t.size(); i++) { mean += t.getDouble(i); sq += t.getDouble(i) * t.getDouble(i); }
        mean /= t.size();
        double std = Math.sqrt(sq / t.size() - mean * mean);
        assertEquals(Math.sqrt(2.0 / 50), std, 0.01, "He-normal: std = sqrt(2 / fan-in), fan-in being the first dimension here");
        assertEquals(0, mean, 0.01);
        Tensor u = a.uniformWeights("g", 0.9f, 1.1f, 1000).constantValue();
        for (int i = 0; i < u.size(); i++) assertTrue(u.getDouble(i) >= 0.9 && u.getDouble(i) < 1.1);
        assertThrows(IllegalArgumentException.class, () -> a.heNormal("bad", 0, 2, 2));
        Value s = a.scalar("k", DType.I64, 7);
        assertEquals(0, s.type().rank());
        assertEquals(7, s.constantValue().getLong(0));
        assertEquals(Map.of(), a.graph().opHistogram(), "constants are not nodes");
    }
}
