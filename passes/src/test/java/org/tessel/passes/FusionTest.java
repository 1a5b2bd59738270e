package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionPatterns;

class FusionTest {
    @Test void elementwiseChainBecomesOneFusedNodeWithTheSameResults() {
        NetworkBuilder b = new NetworkBuilder("elt");
        Value x = b.input("x", DType.F32, 2, 3);
        Value c = b.constant("c", Shape.of(3), 0.5f, -1, 2);
        Value y = b.tanh(b.mul(b.add(x, c), c));
        Graph g = b.output(y).build();
        Tensor in = Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        Tensor before = new ReferenceInterpreter().run(g, List.of(in)).get(0);
        String outName = y.name();
        new PassManager().fullVerify(true).run(g, "fuse");
        assertEquals(1, g.nodes().size());
        assertEquals("tessel.Fused", g.nodes().get(0).opName());
        assertEquals("eltwise", g.nodes().get(0).attrs().getString("kind", ""));
        assertEquals(3, g.nodes().get(0).body().nodes().size());
        assertTrue(before.dataEquals(new ReferenceInterpreter().run(g, List.of(in)).get(0)));
        assertEquals(outName, g.outputs().get(0).name());
    }

    /** Conv, a per-channel bias Add, Relu and MaxPool: one conv_pool candidate; fused, it computes what the chain did. */
    @Test void aConvItsBiasReluAndMaxPoolAreOneConvPoolCandidate() {
        NetworkBuilder b = new NetworkBuilder("stem");
        Value x = b.input("x", DType.F32, 2, 3, 20, 18);
        Value w = b.randomWeights("w", 16, 3, 7, 7);
        Value bias = b.randomWeights("bias", 1, 16, 1, 1);
        Value y = b.maxPool(b.relu(b.add(b.conv(x, w, null, 2, 3), bias)), 3, 2, 1);
        Graph g = b.output(y).build();
        List<FusionCandidate> cs = FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals(FusionPatterns.CONV_POOL)).toList();
        assertEquals(1, cs.size(), cs.toString());
        assertEquals(List.of("Conv", "Add", "Relu", "MaxPool"), cs.get(0).nodes().stream().map(n -> n.opName()).toList());
        Tensor in = b.randomNormal(Shape.of(2, 3, 20, 18), 1f);
        Tensor before = new ReferenceInterpreter().run(g, List.of(in)).get(0);
        new PassManager().fullVerify(true).run(g, "fuse{kinds=conv_pool}");
        assertEquals(1, g.nodes().size());
        assertEquals(FusionPatterns.CONV_POOL, g.nodes().get(0).attrs().getString("kind", ""));
        assertTrue(before.dataEquals(new ReferenceInterpreter().run(g, List.of(in)).get(0)));
        // a pool whose input is also used elsewhere, or a Sigmoid between, makes no candidate
        NetworkBuilder b2 = new NetworkBuilder("two-users");
        Value x2 = b2.input("x", DType.F32, 1, 3, 16, 16);
        Value r = b2.relu(b2.conv(x2, b2.randomWeights("w", 8, 3, 3, 3), null, 1, 1));
        Graph g2 = b2.output(b2.maxPool(r, 2, 2, 0), b2.sigmoid(r)).build();
        assertTrue(FusionPatterns.enumerate(g2).stream().noneMatch(c -> c.kind().equals(FusionPatterns.CONV_POOL)));
        NetworkBuilder b3 = new NetworkBuilder("sigmoid");
        Value x3 = b3.input("x", DType.F32, 1, 3, 16, 16);
        Graph g3 = b3.output(b3.maxPool(b3.sigmoid(b3.conv(x3, b3.randomWeights("w", 8, 3, 3, 3), null, 1, 1)), 2, 2, 0)).build();
        assertTrue(FusionPatterns.enumerate(g3).stream().noneMatch(c -> c.kind().equals(FusionPatterns.CONV_POOL)));
    }

    @Test void chainMustNotFuseAcrossAValueUsedTwice() {
        NetworkBuilder b = new NetworkBuilder("fanout");
        Value x = b.input("x", DType.F32, 2, 3);
        Value r = b.relu(x);
        Value s = b.sigmoid(r);
        Graph g = b.output(s, b.tanh(r)).build();
        List<FusionCandidate> cs = FusionPatterns.enumerate(g);
        assertTrue(cs.isEmpty(), cs.toString());
    }

    /** SiLU(gate) * up before a MatMul: the tree (gate read twice, each read a leaf), the MatMul and its residual Add are one eltwise_gemm candidate. */
    @Test void aMatMulsElementwiseTreeIsItsPrologue() {
        NetworkBuilder b = new NetworkBuilder("mlp");
        Value gate = b.input("gate", DType.F32, 1, 8), up = b.input("up", DType.F32, 1, 8), r = b.input("r", DType.F32, 1, 4);
        Value prod = b.mul(b.mul(gate, b.sigmoid(gate)), up);
        Value y = b.add(r, b.matmul(prod, b.constant("w", Shape.of(8, 4), new float[32])));
        Graph g = b.output(y).build();
        List<FusionCandidate> cs = FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals("eltwise_gemm")).toList();
        assertEquals(1, cs.size(), cs.toString());
        assertEquals(List.of("Sigmoid", "Mul", "Mul", "MatMul", "Add"), cs.get(0).nodes().stream().map(n -> n.opName()).toList());
    }

    /** A must-not-fire case: A's producer has a second user, so A is written anyway and there is no prologue. */
    @Test void noPrologueWhenAIsUsedTwice() {
        NetworkBuilder b = new NetworkBuilder("fanout_mm");
        Value x = b.input("x", DType.F32, 1, 8);
        Value a = b.relu(x);
        Graph g = b.output(b.matmul(a, b.constant("w", Shape.of(8, 4), new float[32])), b.tanh(a)).build();
        assertTrue(FusionPatterns.enumerate(g).stream().noneMatch(c -> c.kind().equals("eltwise_gemm")), FusionPatterns.enumerate(g).toString());
    }

    /** An RMSNormalization read by one MatMul only: the norm, the MatMul and its residual Add are one rmsnorm_gemm candidate. */
    @Test void aNormReadByOneMatMulFusesIntoIt() {
        NetworkBuilder b = new NetworkBuilder("norm_proj");
        Value x = b.input("x", DType.F32, 1, 8), r = b.input("r", DType.F32, 1, 4);
        Value y = b.add(r, b.matmul(b.rmsNorm(x, b.constant("g", Shape.of(8), new float[8]), -1, 1e-5f), b.constant("w", Shape.of(8, 4), new float[32])));
        Graph g = b.output(y).build();
        List<FusionCandidate> cs = FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals("rmsnorm_gemm")).toList();
        assertEquals(1, cs.size(), cs.toString());
        assertEquals(List.of("RMSNormalization", "MatMul", "Add"), cs.get(0).nodes().stream().map(n -> n.opName()).toList());
    }

    /** A must-not-fire case: the norm feeds two MatMuls (unmerged Q and K), so its result is written anyway. */
    @Test void noNormFusionWhenTheNormHasTwoUsers() {
        NetworkBuilder b = new NetworkBuilder("norm_qk");
        Value n = b.rmsNorm(b.input("x", DType.F32, 1, 8), b.constant("g", Shape.of(8), new float[8]), -1, 1e-5f);
        Graph g = b.output(b.matmul(n, b.constant("wq", Shape.of(8, 4), new float[32])), b.matmul(n, b.constant("wk", Shape.of(8, 4), new float[32]))).build();
        assertTrue(FusionPatterns.enumerate(g).stream().noneMatch(c -> c.kind().equals("rmsnorm_gemm")), FusionPatterns.enumerate(g).toString());
    }
}
