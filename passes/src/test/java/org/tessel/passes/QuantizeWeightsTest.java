package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;

/** quantize-weights: fires on constant-weight MatMul/Gemm only, keeps names, bounds its error, refuses bad options. */
class QuantizeWeightsTest {
    static Tensor random(Shape s, long seed, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * std);
        return Tensor.ofFloats(s, v);
    }

    /** x [2, 5, 64] -> proj (constant weight) -> scores = proj x proj^T (activation x activation) -> head (graph output). */
    static Graph attentionLike() {
        NetworkBuilder b = new NetworkBuilder("attn");
        Value x = b.input("x", DType.F32, 2, 5, 64);
        Value h = b.name("proj").matmul(x, b.constant("proj.weight", random(Shape.of(64, 64), 1, 0.125)));
        Value ht = b.name("proj.t").transpose(h, 0, 2, 1);
        Value scores = b.name("scores").matmul(h, ht);
        Value probs = b.name("softmax").softmax(scores, -1);
        Value ctx = b.name("context").matmul(probs, h);
        Value out = b.name("head").matmul(ctx, b.constant("head.weight", random(Shape.of(64, 32), 2, 0.125)));
        return b.output(out).build();
    }

    @Test void firesOnConstantWeightsNotOnActivationProducts() {
        Graph g = attentionLike();
        Tensor x = random(Shape.of(2, 5, 64), 3, 1);
        Tensor before = new ReferenceInterpreter().run(g, List.of(x)).getFirst();
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "quantize-weights{bits=8,group-size=32}");
        Verifier.verify(g);
        assertEquals(1, r.runs().getFirst().stats().get("matmuls-quantized"));
        assertEquals(1, r.runs().getFirst().stats().get("kept-lm-head"));
        assertEquals(QuantizedMatMulOps.WEIGHT_ONLY, g.nodes().stream().filter(n -> n.name().equals("proj")).findFirst().orElseThrow().opName());
        assertEquals("MatMul", g.nodes().stream().filter(n -> n.name().equals("scores")).findFirst().orElseThrow().opName());
        assertEquals("MatMul", g.nodes().stream().filter(n -> n.name().equals("context")).findFirst().orElseThrow().opName());
        assertEquals("MatMul", g.nodes().stream().filter(n -> n.name().equals("head")).findFirst().orElseThrow().opName());
        assertNull(g.value("proj.weight"), "the float weight is gone");
        assertEquals(64 * 64 * 4, r.runs().getFirst().stats().get("weight-bytes-before"));
        assertEquals(64 * 64 + 64 * 2 * 2, r.runs().getFirst().stats().get("weight-bytes-after"));
        Tensor after = new ReferenceInterpreter().run(g, List.of(x)).getFirst();
        double rel = Tensor.relativeL2(before, after);
        assertTrue(rel > 0 && rel < 0.02, "8-bit group-32 relative L2 " + rel);
        // idempotent: nothing left to quantize but the kept head
        assertFalse(new PassManager().run(g, "quantize-weights{bits=8,group-size=32}").runs().getFirst().changed());
    }

    @Test void lmHeadOnRequestAndAsymmetric4Bit() {
        Graph g = attentionLike();
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "quantize-weights{bits=4,group-size=16,symmetric=false,lm-head=true,scale-type=f32}");
        assertEquals(2, r.runs().getFirst().stats().get("matmuls-quantized"));
        var head = g.nodes().stream().filter(n -> n.name().equals("head")).findFirst().orElseThrow();
        assertEquals(4, head.numInputs(), "asymmetric: zero points");
        assertEquals(Shape.of(32, 32), head.input(1).type().shape(), "two codes a byte");
        assertEquals(DType.F32, head.input(2).type().dtype());
        assertEquals("head", g.outputs().getFirst().name());
    }

    @Test void gemmWithBiasBecomesQuantizedMatMulThenAdd() {
        NetworkBuilder b = new NetworkBuilder("gemm");
        Value x = b.input("x", DType.F32, 3, 32);
        Value y = b.name("fc").gemm(x, b.constant("fc.weight", random(Shape.of(16, 32), 4, 0.2)), b.constant("fc.bias", random(Shape.of(16), 5, 0.1)), true);
        Value out = b.name("out").relu(y);
        Graph g = b.output(out).build();
        Tensor in = random(Shape.of(3, 32), 6, 1);
        Tensor before = new ReferenceInterpreter().run(g, List.of(in)).getFirst();
        new PassManager().fullVerify(true).run(g, "quantize-weights{bits=8,group-size=32}");
        assertEquals(List.of(QuantizedMatMulOps.WEIGHT_ONLY, "Add", "Relu"), g.nodes().stream().map(n -> n.opName()).toList());
        assertTrue(Tensor.relativeL2(before, new ReferenceInterpreter().run(g, List.of(in)).getFirst()) < 0.02);
    }

    @Test void keepsWeightsWhoseKDoesNotFitTheGroupsAndTheDecoderStaysDeferred() {
        // llama-tiny: down_proj has K=172, not a multiple of 32
        Graph g = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, 4, 0), 7);
        PassManager.Report r = new PassManager().fullVerify(true).run(g, "quantize-weights{bits=4,group-size=32}");
        var st = r.runs().getFirst().stats();
        assertEquals(2 * 6, st.get("matmuls-quantized"), st.toString()); // q, k, v, o, gate, up per layer
        assertEquals(2, st.get("kept-group-size"));
        assertEquals(1, st.get("kept-lm-head"));
        for (Value c : g.constants()) if (c.name().endsWith(".q4")) assertTrue(c.isDeferred(), c.name() + " is made only when read");
    }

    /**
     * Planning a quantized decoder never makes its weights (CSE leaves deferred constants alone: comparing a quantized
     * weight's small scales used to quantize the whole weight), and two graphs of one model in two shapes (a runner's
     * step buckets) share their quantized forms: each weight is quantized once.
     */
    @Test void cseLeavesQuantizedWeightsUnmadeAndShapesOfOneModelShareThem() {
        List<Graph> graphs = new java.util.ArrayList<>();
        for (int tokens : new int[] {1, 4}) {
            Graph g = Zoo.buildDecoder("llama-tiny", Zoo.decoder("llama-tiny", 0), new DecoderShape(1, tokens, 0), 7);
            new PassManager().fullVerify(true).run(g, "quantize-weights{bits=8,group-size=32},cse,dce");
            for (Value c : g.constants())
                if (c.isDeferred()) assertFalse(c.isMade(), c.name() + " was made by planning");
            graphs.add(g);
        }
        int shared = 0;
        for (Value c : graphs.get(0).constants()) {
            if (!c.name().endsWith(".q8")) continue;
            Value other = graphs.get(1).constants().stream().filter(o -> o.name().equals(c.name())).findFirst().orElseThrow();
            assertSame(c.constantValue(), other.constantValue(), c.name() + ": quantized once for both shapes");
            shared++;
        }
        assertEquals(2 * 6, shared);
    }

    @Test void badOptionsAreRefusedNamingTheOption() {
        PassException e = assertThrows(PassException.class, () -> new PassManager().run(attentionLike(), "quantize-weights{bits=3}"));
        assertTrue(e.getMessage().contains("bits=3") && e.getMessage().contains("bits must be 4 or 8"), e.getMessage());
        e = assertThrows(PassException.class, () -> new PassManager().run(attentionLike(), "quantize-weights{bits=4,group-size=7}"));
        assertTrue(e.getMessage().contains("group-size=7"), e.getMessage());
        e = assertThrows(PassException.class, () -> new PassManager().run(attentionLike(), "quantize-weights{scale-type=i8}"));
        assertTrue(e.getMessage().contains("scale-type=i8"), e.getMessage());
        e = assertThrows(PassException.class, () -> new PassManager().run(attentionLike(), "quantize-weights{symmetric=maybe}"));
        assertTrue(e.getMessage().contains("symmetric=maybe"), e.getMessage());
    }
}
