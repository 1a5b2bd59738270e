package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterContainer;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.passes.fusion.SiblingMerge;
import org.tessel.passes.fusion.SiblingMerges;
import org.tessel.passes.rules.Rewriter;

/**
 * Horizontal merges keep meaning: on random graphs of sibling chains (Convs, MatMuls and Gemms on one
 * input, with and without biases, with the same or different tails, some results shared with other
 * consumers or returned), every merge {@link SiblingMerges#enumerate} finds, applied alone (as a search
 * plan applies a chosen subset) or all together by the merge-siblings pass, leaves a valid graph whose
 * reference outputs equal the original's exactly: each output element is still computed from the same
 * weights in the same order. The generator always makes a pair of chains that can merge, so the property
 * never holds vacuously.
 */
class SiblingMergePropertiesTest {
    private static int graphs, merges, chains;

    @Property(tries = 300)
    void everyMergeAloneAndAllTogetherKeepTheReferenceOutputs(@ForAll long seed) {
        Graph g = siblings(seed);
        Verifier.verify(g);
        List<Tensor> in = inputs(g, seed);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        List<SiblingMerge> found = SiblingMerges.enumerate(g);
        assertFalse(found.isEmpty(), "the generator's twin chains merge:\n" + org.tessel.ir.text.IrPrinter.print(g));
        for (int k = 0; k < found.size(); k++) {
            Graph h = g.copy();
            SiblingMerge m = SiblingMerges.enumerate(h).get(k);
            int before = h.nodes().size();
            SiblingMerges.Merged made = SiblingMerges.apply(new Rewriter(h, OpRegistry.global(), new PassStatistics()), m);
            Verifier.verify(h);
            assertEquals(m.chainLength(), made.wide().size());
            assertEquals(before - m.nodes().size() + made.wide().size() + 1, h.nodes().size(), "the chains are gone, the wide chain and the Split are in");
            assertEquals(g.outputs().stream().map(Value::name).toList(), h.outputs().stream().map(Value::name).toList());
            assertExactlyEqual(want, new ReferenceInterpreter().run(h, in), m.toString());
            chains += m.chains().size();
        }
        Graph all = g.copy();
        new PassManager().fullVerify(true).run(all, "merge-siblings,dce");
        assertExactlyEqual(want, new ReferenceInterpreter().run(all, in), "merge-siblings");
        assertTrue(SiblingMerges.enumerate(all).isEmpty(), "merge-siblings leaves nothing to merge");
        graphs++;
        merges += found.size();
    }

    @AfterContainer static void report() {
        System.out.println("sibling merges: " + graphs + " random graphs, " + merges + " merges of " + chains + " chains applied one by one and all together");
    }

    /**
     * Weight-only quantized siblings (a decoder's Q/K/V at INT4 in groups of 32) merge into one wider tessel.WeightOnlyMatMul
     * whose codes and scales are the parts' stacked as rows: the reference outputs are exactly the same. A sibling quantized
     * in groups of 64 (another format) stays out of the merge, and keeps the norm from fusing into the wide node (two users).
     */
    @Example void weightOnlySiblingsMergeAsStackedRowsAndKeepTheReferenceOutputs() {
        var reg = OpRegistry.global();
        Graph g = new Graph("wo_qkv");
        Value x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, org.tessel.api.Shape.of(1, 1, 64)));
        SplittableRandom r = new SplittableRandom(5);
        float[] gamma = new float[64];
        for (int i = 0; i < 64; i++) gamma[i] = (float) (1 + 0.2 * r.nextGaussian());
        Value normed = g.addNode(reg.get("RMSNormalization"), "input_layernorm", List.of(x, g.addConstant("gamma", Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(64), gamma))),
                org.tessel.api.Attributes.empty(), 1).output();
        List<Value> outs = new ArrayList<>();
        int[] ns = {32, 16, 16, 8};
        for (int j = 0; j < ns.length; j++) {
            float[] w = new float[64 * ns[j]];
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            outs.add(g.addNode(reg.get("MatMul"), "proj" + j, List.of(normed, g.addConstant("w" + j, Tensor.ofFloats(DType.F32, org.tessel.api.Shape.of(64, ns[j]), w))),
                    org.tessel.api.Attributes.empty(), 1).output());
        }
        g.setOutputs(outs);
        Graph odd = g.copy();
        new PassManager().run(g, "quantize-weights{bits=4,group-size=32,lm-head=true}");
        new PassManager().run(odd, "quantize-weights{bits=4,group-size=64,lm-head=true}");
        // proj3 in groups of 64: splice odd's quantized proj3 into g in place of its own
        Node p3 = g.nodes().stream().filter(n -> n.name().equals("proj3")).findFirst().orElseThrow(), o3 = odd.nodes().stream().filter(n -> n.name().equals("proj3")).findFirst().orElseThrow();
        List<Value> ins = new ArrayList<>(List.of(p3.input(0)));
        for (int i = 1; i < o3.numInputs(); i++) ins.add(g.addConstant("odd" + i, o3.input(i).constantValue()));
        Node wide3 = g.addNode(reg.get(o3.opName()), "proj3_g64", ins, o3.attrs(), 1);
        g.setOutputs(List.of(g.outputs().get(0), g.outputs().get(1), g.outputs().get(2), wide3.output()));
        g.removeNode(p3);
        Verifier.verify(g);
        List<Tensor> in = inputs(g, 11);
        List<Tensor> want = new ReferenceInterpreter().run(g, in);
        List<SiblingMerge> found = SiblingMerges.enumerate(g);
        assertEquals(1, found.size(), found.toString());
        assertEquals("weight_only", found.getFirst().kind());
        assertEquals(List.of("proj0", "proj1", "proj2"), found.getFirst().chains().stream().map(c -> c.getFirst().name()).toList());
        SiblingMerges.Merged made = SiblingMerges.apply(new Rewriter(g, reg, new PassStatistics()), found.getFirst());
        Verifier.verify(g);
        assertEquals("tessel.WeightOnlyMatMul", made.wide().getFirst().opName());
        assertExactlyEqual(want, new ReferenceInterpreter().run(g, in), "weight-only merge");
        // the norm also feeds proj3_g64, so it is no rmsnorm_gemm of the wide node (the one-user case: PagedDecoderWeightOnlyPlanTest)
        assertTrue(org.tessel.passes.fusion.FusionPatterns.enumerate(g).stream().noneMatch(c -> c.kind().equals("rmsnorm_gemm")), "a norm with two users does not fuse");
    }

    /** A plan names the chains to merge; chains that cannot merge are refused with the reason. */
    @Example void chainsThatCannotMergeAreRefusedWithTheReason() {
        NetworkBuilder b = new NetworkBuilder("refuse", OpRegistry.global(), 1);
        Value x = b.input("x", DType.F32, 1, 4, 5, 5), y = b.input("y", DType.F32, 1, 4, 5, 5);
        Value a = b.relu(b.conv(x, b.randomWeights("wa", 3, 4, 1, 1), null, 1, 0));
        Value c = b.relu(b.conv(x, b.randomWeights("wc", 2, 4, 1, 1), null, 1, 0));
        Value d = b.relu(b.conv(y, b.randomWeights("wd", 2, 4, 1, 1), null, 1, 0));
        Value e = b.relu(b.conv(x, b.randomWeights("we", 2, 4, 3, 3), null, 1, 1));
        Graph g = b.output(a, c, d, e).build();
        List<Node> ca = List.of(a.producer().input(0).producer(), a.producer()), cc = List.of(c.producer().input(0).producer(), c.producer());
        List<Node> cd = List.of(d.producer().input(0).producer(), d.producer()), ce = List.of(e.producer().input(0).producer(), e.producer());
        assertEquals(2, SiblingMerges.of(g, List.of(ca, cc)).chains().size());
        var ex = assertThrows(IllegalArgumentException.class, () -> SiblingMerges.of(g, List.of(ca, cd)));
        assertTrue(ex.getMessage().contains("reads %y"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> SiblingMerges.of(g, List.of(ca, ce)));
        assertTrue(ex.getMessage().contains("geometry or tail"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> SiblingMerges.of(g, List.of(ca, List.of(cc.getFirst()))));
        assertTrue(ex.getMessage().contains("heads the chain"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> SiblingMerges.of(g, List.of(ca)));
        assertTrue(ex.getMessage().contains("at least two chains"), ex.getMessage());
    }

    /** Random sibling chains on one input; the first two always share kind, geometry and tail. */
    static Graph siblings(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        NetworkBuilder b = new NetworkBuilder("siblings", OpRegistry.global(), seed);
        int kind = r.nextInt(3); // 0 conv, 1 matmul, 2 gemm
        Value x = switch (kind) {
            case 0 -> b.input("x", DType.F32, 1 + r.nextInt(2), 2 + r.nextInt(3), 3 + r.nextInt(3), 3 + r.nextInt(3));
            case 1 -> r.nextBoolean() ? b.input("x", DType.F32, 1 + r.nextInt(2), 2 + r.nextInt(4), 2 + r.nextInt(5)) : b.input("x", DType.F32, 2 + r.nextInt(4), 2 + r.nextInt(5));
            default -> b.input("x", DType.F32, 2 + r.nextInt(4), 2 + r.nextInt(5));
        };
        int kernel = r.nextBoolean() ? 1 : 3;
        boolean transB = r.nextBoolean();
        String[] tails = {"none", "Relu", "Clip", "Gelu", "Sigmoid"};
        String twinTail = tails[r.nextInt(tails.length)];
        boolean twinBias = r.nextBoolean();
        List<Value> results = new ArrayList<>();
        int n = 2 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
            boolean twin = i < 2 || r.nextInt(3) > 0;
            String tail = twin ? twinTail : tails[r.nextInt(tails.length)];
            boolean bias = twin ? twinBias : r.nextBoolean();
            int out = 1 + r.nextInt(4);
            Value y = switch (kind) {
                case 0 -> {
                    int k = twin ? kernel : (r.nextBoolean() ? 1 : 3);
                    int cin = x.type().shape().dim(1);
                    yield b.conv(x, b.randomWeights("w", out, cin, k, k), r.nextBoolean() ? b.randomWeights("b", out) : null, 1, k / 2);
                }
                case 1 -> {
                    Value mm = b.matmul(x, b.randomWeights("w", x.type().shape().dim(-1), out));
                    if (!bias) yield mm;
                    Value c = r.nextBoolean() ? b.randomWeights("b", out) : b.randomWeights("b", 1, out);
                    yield r.nextBoolean() ? b.add(mm, c) : b.add(c, mm);
                }
                default -> {
                    boolean tb = twin ? transB : r.nextBoolean();
                    int kdim = x.type().shape().dim(1);
                    Value w = tb ? b.randomWeights("w", out, kdim) : b.randomWeights("w", kdim, out);
                    yield b.gemm(x, w, r.nextBoolean() ? b.randomWeights("c", out) : null, tb);
                }
            };
            if (!twin && r.nextInt(4) == 0) results.add(b.op("Neg", null, y)); // a second consumer of the root's result: its chain stops there
            y = switch (tail) {
                case "Relu" -> b.relu(y);
                case "Clip" -> b.clip(y, 0, twin ? 6 : 1 + r.nextInt(6));
                case "Gelu" -> b.gelu(y);
                case "Sigmoid" -> b.sigmoid(y);
                default -> y;
            };
            results.add(y);
        }
        // consumers: some results returned as they are, the others combined
        List<Value> outs = new ArrayList<>();
        for (Value v : results) {
            if (r.nextBoolean() || outs.isEmpty()) outs.add(v);
            else outs.add(b.op("Abs", null, v)); // not an activation a chain could take
        }
        return b.output(outs.toArray(Value[]::new)).build();
    }

    static List<Tensor> inputs(Graph g, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x9E3779B97F4A7C15L);
        List<Tensor> out = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
            for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble(-2, 2));
            out.add(t);
        }
        return out;
    }

    static void assertExactlyEqual(List<Tensor> want, List<Tensor> got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int k = 0; k < want.size(); k++) {
            assertEquals(want.get(k).shape(), got.get(k).shape(), what + " output " + k);
            assertTrue(want.get(k).dataEquals(got.get(k)), what + ": output " + k + " differs");
        }
    }
}
