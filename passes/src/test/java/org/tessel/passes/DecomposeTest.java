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
 * The decompose pass: Attention and Einsum written out in primitive ops compute what the ops compute (the reference
 * interpreter on both graphs) over their forms; the 3-D multi-head form is found again as one attention fusion group;
 * the Einsums it leaves alone.
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
}
