package org.tessel.passes;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionPatterns;

/**
 * The decompose pass: Attention, Einsum and ONNX RotaryEmbedding written out in primitive ops compute what the ops
 * compute (the reference interpreter on both graphs) over their forms, ONNX's rotary node cases included; the 3-D
 * multi-head attention is found again as one attention fusion group; the Einsums it leaves alone.
 */
class DecomposeTest {
    private static final SplittableRandom R = new SplittableRandom(17);

    private static Tensor random(DType t, int... dims) {
        Tensor x = Tensor.zeros(t, Shape.of(dims));
        for (int i = 0; i < x.size(); i++) x.setDouble(i, R.nextDouble(-1, 1));
        return x;
    }

    /** One node of op over graph inputs (null: omitted), all outputs graph outputs. */
    private static Graph oneNode(String op, Attributes a, int outputs, Tensor... ins) {
        Graph g = new Graph(op.toLowerCase());
        List<Value> vs = new ArrayList<>();
        for (int i = 0; i < ins.length; i++) vs.add(ins[i] == null ? null : g.addInput("in" + i, TensorType.of(ins[i].dtype(), ins[i].shape())));
        Node n = g.addNode(OpRegistry.global().get(op), op.toLowerCase(), vs, a, outputs);
        g.setOutputs(n.outputs());
        return g;
    }

    private static List<Tensor> feed(Tensor... ins) {
        List<Tensor> f = new ArrayList<>();
        for (Tensor t : ins) if (t != null) f.add(t);
        return f;
    }

    /** Runs the graph before and after decompose + clean-up; the op must be gone and the outputs agree. */
    private static Graph checkDecomposes(Graph g, String op, Tensor... ins) {
        List<Tensor> want = new ReferenceInterpreter().run(g, feed(ins));
        Graph d = g.copy();
        new PassManager().run(d, "decompose," + StandardPipelines.CLEANUP);
        assertFalse(d.nodes().stream().anyMatch(n -> n.opName().equals(op)), g.name() + " still has " + op);
        List<Tensor> got = new ReferenceInterpreter().run(d, feed(ins));
        assertEquals(want.size(), got.size());
        for (int o = 0; o < want.size(); o++) {
            assertEquals(want.get(o).shape(), got.get(o).shape(), "output " + o);
            for (int i = 0; i < want.get(o).size(); i++) {
                double w = want.get(o).getDouble(i), x = got.get(o).getDouble(i);
                if (Double.isNaN(w) || Double.isInfinite(w)) assertEquals(w, x, "output " + o + " element " + i);
                else assertEquals(w, x, 1e-5 * Math.max(1, Math.abs(w)), "output " + o + " element " + i);
            }
        }
        return d;
    }

    private static Attributes attrs(Object... kv) {
        Attributes.Builder b = Attributes.builder();
        for (int i = 0; i < kv.length; i += 2) {
            Object v = kv[i + 1];
            if (v instanceof Float f) b.put((String) kv[i], f);
            else b.put((String) kv[i], ((Number) v).longValue());
        }
        return b.build();
    }

    private static Tensor bools(SplittableRandom r, double pTrue, int... dims) {
        Tensor m = Tensor.zeros(DType.BOOL, Shape.of(dims));
        for (int i = 0; i < m.size(); i++) m.setDouble(i, r.nextDouble() < pTrue ? 1 : 0);
        return m;
    }

    @Test void attentionFormsComputeWhatTheOpComputes() {
        int b = 2, sq = 3, skv = 5, d = 4;
        // 3-D multi-head and grouped-query, causal, scaled, softcapped
        for (int[] heads : new int[][] {{2, 2}, {6, 2}, {4, 1}})
            for (Attributes a : List.of(attrs(), attrs("is_causal", 1), attrs("scale", 0.3f, "softcap", 1.5f), attrs("left_window_size", 1, "right_window_size", 0))) {
                Attributes h = a.with("q_num_heads", org.tessel.api.AttrValue.of((long) heads[0])).with("kv_num_heads", org.tessel.api.AttrValue.of((long) heads[1]));
                Tensor q = random(DType.F32, b, sq, heads[0] * d), k = random(DType.F32, b, skv, heads[1] * d), v = random(DType.F32, b, skv, heads[1] * 3);
                checkDecomposes(oneNode("Attention", h, 1, q, k, v), "Attention", q, k, v);
            }
        // 4-D with masks: bool [Sq, T] with fully masked rows, float [B,1,Sq,T-2] padded, rank-1
        Tensor q = random(DType.F32, b, 4, sq, d), k = random(DType.F32, b, 2, skv, d), v = random(DType.F32, b, 2, skv, d);
        Tensor bm = bools(new SplittableRandom(3), 0.5, sq, skv);
        bm.setDouble(0, 0); bm.setDouble(1, 0); bm.setDouble(2, 0); bm.setDouble(3, 0); bm.setDouble(4, 0);
        for (Tensor mask : List.of(bm, random(DType.F32, b, 1, sq, skv - 2), random(DType.F32, skv)))
            for (Attributes a : List.of(attrs(), attrs("is_causal", 1, "qk_matmul_output_mode", 2), attrs("qk_matmul_output_mode", 3)))
                checkDecomposes(oneNode("Attention", a, 4, q, k, v, mask), "Attention", q, k, v, mask);
        // a past cache with present outputs; an external cache through nonpad_kv_seqlen with a window
        Tensor pk = random(DType.F32, b, 2, 3, d), pv = random(DType.F32, b, 2, 3, d);
        checkDecomposes(oneNode("Attention", attrs("is_causal", 1), 3, q, k, v, null, pk, pv), "Attention", q, k, v, pk, pv);
        Tensor nonpad = Tensor.ofLongs(DType.I64, Shape.of(2), 2, 5);
        for (Attributes a : List.of(attrs(), attrs("is_causal", 1), attrs("is_causal", 1, "left_window_size", 1), attrs("right_window_size", 0)))
            checkDecomposes(oneNode("Attention", a, 1, q, k, v, null, null, null, nonpad), "Attention", q, k, v, null, null, null, nonpad);
    }

    @Test void theThreeDimensionalMultiHeadFormIsOneAttentionGroup() {
        Tensor q = random(DType.F32, 2, 8, 32), k = random(DType.F32, 2, 8, 32), v = random(DType.F32, 2, 8, 32);
        for (Attributes a : List.of(attrs(), attrs("is_causal", 1))) {
            Graph g = oneNode("Attention", a.with("q_num_heads", org.tessel.api.AttrValue.of(4L)).with("kv_num_heads", org.tessel.api.AttrValue.of(4L)), 1, q, k, v);
            Graph d = checkDecomposes(g, "Attention", q, k, v);
            List<FusionCandidate> att = FusionPatterns.enumerate(d).stream().filter(c -> c.kind().equals("attention")).toList();
            assertEquals(1, att.size(), d.toString());
            // every node but the constants' producers joins the group: head splits, scores, scale, mask, softmax, context, merge
            assertTrue(att.getFirst().nodes().size() >= 10, att.getFirst().nodes().toString());
        }
    }

    @Test void einsumContractionsComputeWhatTheOpComputes() {
        Object[][] cases = {
                {"bij,bjk->bik", new int[] {5, 2, 3}, new int[] {5, 3, 4}},
                {"ij->ji", new int[] {3, 4}},
                {"ij->i", new int[] {3, 4}},
                {"i,i", new int[] {5}, new int[] {5}},
                {"->", new int[] {}},
                {"bhqd,bhkd->bhqk", new int[] {2, 3, 4, 8}, new int[] {2, 3, 5, 8}},
                {"...ij,...jk", new int[] {2, 3, 4}, new int[] {2, 4, 5}},
                {"abc,cd,de->ae", new int[] {2, 3, 4}, new int[] {4, 5}, new int[] {5, 2}},
                {"ij,kl->ikjl", new int[] {2, 3}, new int[] {4, 2}},
                {"ijk,ik->j", new int[] {2, 3, 4}, new int[] {2, 4}},
        };
        for (Object[] c : cases) {
            Tensor[] ins = new Tensor[c.length - 1];
            for (int i = 1; i < c.length; i++) ins[i - 1] = random(DType.F32, (int[]) c[i]);
            Graph g = oneNode("Einsum", Attributes.builder().put("equation", (String) c[0]).build(), 1, ins);
            checkDecomposes(g, "Einsum", ins);
        }
    }

    @Test void diagonalsBroadcastsAndIntegersAreLeftAlone() {
        Object[][] cases = {
                {"ii->i", DType.F32, new int[] {3, 3}},
                {"...i,...i->...", DType.F32, new int[] {2, 1, 3}, new int[] {4, 3}},
                {"ij,jk", DType.I64, new int[] {2, 3}, new int[] {3, 2}},
        };
        for (Object[] c : cases) {
            Tensor[] ins = new Tensor[c.length - 2];
            for (int i = 2; i < c.length; i++) ins[i - 2] = random((DType) c[1], (int[]) c[i]);
            Graph g = oneNode("Einsum", Attributes.builder().put("equation", (String) c[0]).build(), 1, ins);
            new PassManager().run(g, "decompose");
            assertEquals(List.of("Einsum"), g.nodes().stream().map(Node::opName).toList(), (String) c[0]);
        }
    }

    /** Position ids [b, s] within [0, positions). */
    private static Tensor positions(int b, int s, int positions) {
        Tensor p = Tensor.zeros(DType.I64, Shape.of(b, s));
        for (int i = 0; i < p.size(); i++) p.setDouble(i, R.nextInt(positions));
        return p;
    }

    @Test void rotaryEmbeddingFormsComputeWhatTheOpComputes() {
        int b = 2, h = 3, s = 4, d = 8;
        for (boolean threeD : new boolean[] {false, true})
            for (int interleaved = 0; interleaved < 2; interleaved++)
                for (int rot : new int[] {0, 4})
                    for (boolean withPositions : new boolean[] {false, true}) {
                        Tensor x = threeD ? random(DType.F32, b, s, h * d) : random(DType.F32, b, h, s, d);
                        // caches wider than rot/2 columns: only the first rot/2 are read
                        int width = (rot == 0 ? d : rot) / 2 + 1;
                        Tensor cos = withPositions ? random(DType.F32, 7, width) : random(DType.F32, b, s, width);
                        Tensor sin = withPositions ? random(DType.F32, 7, width) : random(DType.F32, b, s, width);
                        Tensor pos = withPositions ? positions(b, s, 7) : null;
                        Attributes a = attrs("interleaved", interleaved, "rotary_embedding_dim", rot, "num_heads", threeD ? h : 0);
                        Graph g = withPositions ? oneNode("RotaryEmbedding", a, 1, x, cos, sin, pos) : oneNode("RotaryEmbedding", a, 1, x, cos, sin);
                        Graph dd = checkDecomposes(g, "RotaryEmbedding", x, cos, sin, pos);
                        String what = (threeD ? "3-D" : "4-D") + " interleaved=" + interleaved + " rot=" + rot + " positions=" + withPositions;
                        // the halves form runs as Tessel's op (tessel.rope), the interleaved one in elementwise and movement ops
                        assertEquals(interleaved == 0, dd.nodes().stream().anyMatch(n -> n.opName().equals(org.tessel.ir.ops.RotaryEmbeddingOps.HALF_ROTATION)), what + ": " + dd);
                        assertEquals(withPositions, dd.nodes().stream().anyMatch(n -> n.opName().equals("Gather")), what);
                    }
    }

    /** ONNX's RotaryEmbedding node cases (not their _expanded twins) give their expected outputs after the pass. */
    @Test void onnxRotaryEmbeddingNodeCasesPassAfterThePass() throws java.io.IOException {
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("tessel.shared", "/work/shared"), "onnx-node");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isDirectory(dir), "ONNX node cases not found at " + dir + " (set -Dtessel.shared.dir); skipping");
        List<java.nio.file.Path> cases;
        try (var l = java.nio.file.Files.list(dir)) {
            cases = l.filter(c -> c.getFileName().toString().startsWith("test_rotary_embedding") && !c.getFileName().toString().endsWith("_expanded")).sorted().toList();
        }
        assertEquals(8, cases.size(), cases.toString());
        for (java.nio.file.Path c : cases) {
            Graph g = org.tessel.ir.onnx.OnnxImporter.importModel(c.resolve("model.onnx"));
            assertTrue(g.nodes().stream().anyMatch(n -> n.opName().equals("RotaryEmbedding")), c.getFileName() + " holds no RotaryEmbedding");
            java.nio.file.Path data = c.resolve("test_data_set_0");
            List<Tensor> ins = new ArrayList<>();
            for (int i = 0; i < g.inputs().size(); i++) ins.add(org.tessel.ir.onnx.OnnxTensors.readTensor(data.resolve("input_" + i + ".pb")));
            Tensor want = org.tessel.ir.onnx.OnnxTensors.readTensor(data.resolve("output_0.pb"));
            Graph d = g.copy();
            new PassManager().run(d, "decompose," + StandardPipelines.CLEANUP);
            assertFalse(d.nodes().stream().anyMatch(n -> n.opName().equals("RotaryEmbedding")), c.getFileName() + " still has RotaryEmbedding");
            Tensor got = new ReferenceInterpreter().run(d, ins).getFirst();
            assertEquals(want.shape(), got.shape(), c.getFileName().toString());
            for (int i = 0; i < want.size(); i++)
                assertEquals(want.getDouble(i), got.getDouble(i), 1e-5 * Math.max(1, Math.abs(want.getDouble(i))), c.getFileName() + " element " + i);
        }
    }
}
