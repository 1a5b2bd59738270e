package org.tessel.tactics.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

/** Recognition of fused attention bodies (CPU only): the zoo's BERT and ViT bodies, and refused variants. */
class AttentionBodyTest {
    static List<Node> attentionNodes(Graph g) {
        return g.nodes().stream().filter(n -> n.opName().equals("tessel.Fused") && n.attrs().getString("kind", "").equals("attention")).toList();
    }

    static Graph optimized(String model, ZooOptions o) {
        Graph g = Zoo.build(model, o);
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    @Test void bertBaseBodiesGiveHeadsHeadSizeScaleAndMask() {
        Graph g = optimized("bert-base", ZooOptions.defaults().withBatch(2).withSequenceLength(128).withLayers(2));
        List<Node> att = attentionNodes(g);
        assertEquals(2, att.size());
        for (Node n : att) {
            AttentionBody a = AttentionBody.parse(n);
            assertEquals(2, a.batch());
            assertEquals(12, a.heads());
            assertEquals(64, a.headDim());
            assertEquals(128, a.seqQ());
            assertEquals(128, a.seqK());
            assertEquals(0.125f, a.scale(), 1e-7f);
            assertNotNull(a.mask());
            assertEquals("[2,1,1,128]", a.mask().type().shape().toString().replace(" ", ""));
            assertTrue(!a.q().isConstant() && a.q() != a.k() && a.k() != a.v());
        }
    }

    /**
     * The real BERT of ../shared/models (a torch.dynamo export) has SDPA's attention body: a per-query mask
     * [B,1,S,S], Q and K each multiplied by sqrt(scale), K transposed through Reshape/Transpose[0,2,1]/Reshape
     * from a body input already viewed as [B,S,H,D], and the NaN guard Where(IsNaN(softmax), 0, softmax).
     */
    @Test void theDynamoExportedBertIsRecognised() {
        Graph g = sharedModel("bert_tiny_dynamo");
        new PassManager().run(g, StandardPipelines.STANDARD);
        List<Node> att = attentionNodes(g);
        assertEquals(2, att.size(), "bert_tiny_dynamo has two attention layers");
        for (Node n : att) {
            AttentionBody a = AttentionBody.parse(n);
            assertEquals(2, a.batch());
            assertEquals(2, a.heads());
            assertEquals(64, a.headDim());
            assertEquals(16, a.seqQ());
            assertEquals(16, a.seqK());
            float c = 0.35355338f; // the export's Mul constant on Q and on K^T: sqrt(1/sqrt(64))
            assertEquals(c * c, a.scale(), 1e-7f);
            assertEquals(0.125f, a.scale(), 1e-6f);
            assertNotNull(a.mask());
            assertTrue(a.perQueryMask());
            assertEquals("[2,1,16,16]", a.mask().type().shape().toString().replace(" ", ""));
            assertTrue(a.nanGuard());
            assertEquals("[2,16,2,64]", a.k().type().shape().toString().replace(" ", "")); // K's operand is the [B,S,H,D] view
            assertTrue(a.q() != a.k() && a.k() != a.v());
            assertTrue(AttentionBody.describe(a).containsAll(List.of("mask=per-query", "nanGuard=true")), AttentionBody.describe(a).toString());
        }
    }

    @Test void theZooBodiesHaveAKeyMaskAndNoGuard() {
        for (Node n : attentionNodes(optimized("bert-tiny", ZooOptions.defaults()))) {
            AttentionBody a = AttentionBody.parse(n);
            assertTrue(!a.perQueryMask() && !a.nanGuard());
        }
    }

    /** A guard that replaces NaN by anything but 0 is not SDPA's and is refused. */
    @Test void aGuardReplacingNaNByAnotherValueIsRefused() {
        Graph g = sharedModel("bert_tiny_dynamo");
        new PassManager().run(g, StandardPipelines.STANDARD);
        Node n = attentionNodes(g).get(0);
        Node where = bodyNode(n, "Where", 0);
        Graph body = n.body();
        org.tessel.ir.Value one = body.addConstant("one", org.tessel.api.Tensor.scalar(org.tessel.api.DType.F32, 1));
        body.setNodeInput(where, 1, one);
        AttentionBody.NotRecognized e = refused(n);
        assertTrue(e.getMessage().contains("replaces NaN by 1.0"), e.getMessage());
    }

    /** A mask per head [B,H,S,S] is not broadcast over heads: refused. */
    @Test void aPerHeadMaskIsRefused() {
        Graph g = sharedModel("bert_tiny_dynamo");
        new PassManager().run(g, StandardPipelines.STANDARD);
        Node n = attentionNodes(g).get(0);
        Node add = bodyNode(n, "Add", 0);
        Graph body = n.body();
        org.tessel.ir.Value m = body.addConstant("per_head_mask", org.tessel.api.Tensor.zeros(org.tessel.api.DType.F32, org.tessel.api.Shape.of(2, 2, 16, 16)));
        body.setNodeInput(add, 1, m);
        AttentionBody.NotRecognized e = refused(n);
        assertTrue(e.getMessage().contains("neither a key mask"), e.getMessage());
    }

    @Test void vitTinyBodiesHaveNoMask() {
        Graph g = optimized("vit-tiny", ZooOptions.defaults());
        for (Node n : attentionNodes(g)) {
            AttentionBody a = AttentionBody.parse(n);
            assertEquals(2, a.heads());
            assertEquals(32, a.headDim());
            assertEquals(65, a.seqQ());
            assertEquals((float) (1 / Math.sqrt(32)), a.scale(), 1e-6f);
            assertNull(a.mask());
        }
    }

    private static Node bodyNode(Node fused, String op, int which) {
        return fused.body().nodes().stream().filter(b -> b.opName().equals(op)).skip(which).findFirst().orElseThrow();
    }

    private static AttentionBody.NotRecognized refused(Node fused) {
        AttentionBody.NotRecognized e = assertThrows(AttentionBody.NotRecognized.class, () -> AttentionBody.parse(fused));
        assertTrue(e.getMessage().contains(fused.describe()), e.getMessage());
        return e;
    }

    /**
     * GPT-2 as torch's dynamo exporter writes it ends the attention in [B*S, H*D] (the rows merged before the output
     * projection): the same bytes as [B, S, H*D], recognised; an output of other rows is refused naming the shapes.
     */
    @Test void anOutputWithItsRowsMergedIsRecognised() {
        Node n = attentionNodes(optimized("bert-tiny", ZooOptions.defaults().withBatch(2))).get(0);
        AttentionBody a = AttentionBody.parse(n);
        Value out = n.body().outputs().get(0);
        org.tessel.api.TensorType was = out.type();
        out.setType(org.tessel.api.TensorType.of(was.dtype(), org.tessel.api.Shape.of(a.batch() * a.seqQ(), a.heads() * a.headDim())));
        AttentionBody merged = AttentionBody.parse(n);
        assertEquals(a.batch(), merged.batch());
        assertEquals(a.seqQ(), merged.seqQ());
        out.setType(org.tessel.api.TensorType.of(was.dtype(), org.tessel.api.Shape.of(a.batch(), a.seqQ() * a.heads() * a.headDim())));
        assertTrue(refused(n).getMessage().contains("expected [" + a.batch() + "," + a.seqQ() + "," + a.heads() * a.headDim() + "] or [" + a.batch() * a.seqQ() + ","), "refused naming both forms");
    }

    @Test void aWrongHeadPermutationIsRefused() {
        Node n = attentionNodes(optimized("bert-tiny", ZooOptions.defaults())).get(0);
        Node t = bodyNode(n, "Transpose", 0); // Q's head split
        t.setAttrs(Attributes.builder().put("perm", 0L, 1L, 2L, 3L).build());
        assertTrue(refused(n).getMessage().contains("perm [0, 1, 2, 3]"));
    }

    @Test void softmaxOverAnotherAxisIsRefused() {
        Node n = attentionNodes(optimized("bert-tiny", ZooOptions.defaults())).get(0);
        Node sm = bodyNode(n, "Softmax", 0);
        sm.setAttrs(Attributes.builder().put("axis", 2L).build());
        assertTrue(refused(n).getMessage().contains("Softmax over axis 2"));
    }

    @Test void anOpOutsideThePatternIsRefused() {
        Node n = attentionNodes(optimized("bert-tiny", ZooOptions.defaults())).get(0);
        Node div = bodyNode(n, "Div", 0);
        Graph body = n.body();
        // a second scaling between the first and the mask: not the recognised pattern any more
        Node extra = body.insertNode(body.indexOf(div) + 1, div.op(), "extra_div", List.of(div.output(), div.input(1)), div.attrs(),
                List.of(div.output().type()), List.of("extra_div_out"), null);
        Node add = body.users(div.output()).stream().filter(u -> u.opName().equals("Add")).findFirst().orElseThrow();
        body.setNodeInput(add, add.input(0) == div.output() ? 0 : 1, extra.output());
        AttentionBody.NotRecognized e = refused(n);
        assertTrue(e.getMessage().contains("the scores is a Div, expected MatMul"), e.getMessage());
    }

    @Test void aNonAttentionBodyIsRefused() {
        Graph g = optimized("bert-tiny", ZooOptions.defaults());
        Node gemm = g.nodes().stream().filter(n -> n.attrs().getString("kind", "").equals("gemm_bias_act")).findFirst().orElseThrow();
        AttentionBody.NotRecognized e = refused(gemm);
        assertTrue(e.getMessage().contains("expected Reshape"), e.getMessage());
    }

    /** A model of ../shared/models (-Dtessel.shared=DIR), or the test is skipped, saying so. */
    static Graph sharedModel(String name) {
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("models").resolve(name);
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(dir.resolve("model.onnx")),
                "model " + name + " not found at " + dir + " (set -Dtessel.shared=DIR); skipping");
        return org.tessel.ir.onnx.OnnxImporter.importModel(dir.resolve("model.onnx"));
    }
}
