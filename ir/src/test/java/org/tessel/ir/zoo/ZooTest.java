package org.tessel.ir.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;

/** The zoo's catalogue, options and structure: names, errors, node naming, configurable depth. */
class ZooTest {
    @Test
    void namesListEveryModelWithItsTinyVariant() {
        assertEquals(List.of("resnet50", "resnet50-tiny", "mobilenetv2", "mobilenetv2-tiny", "googlenet", "googlenet-tiny",
                "bert-base", "bert-tiny", "vit", "vit-tiny", "gpt2", "gpt2-tiny", "llama-1b", "llama-tiny",
                "efficientnet-b0", "efficientnet-b0-tiny", "convnext-tiny", "convnext-tiny-tiny", "unet", "unet-tiny", "unet-bilinear", "unet-bilinear-tiny",
                "crnn", "crnn-tiny", "crnn-lstm", "crnn-lstm-tiny", "ssdlite", "ssdlite-tiny", "ssdlite-nms", "ssdlite-nms-tiny"), Zoo.names());
        for (String n : Zoo.names()) {
            ModelCard c = Zoo.describe(n);
            assertEquals(n, c.name());
            assertFalse(c.summary().isBlank());
            assertEquals(isTwin(n), c.reference() == null, n + ": only full models carry published figures");
            assertTrue(c.toString().contains(c.inputs()));
        }
        assertTrue(Zoo.describe("googlenet").summary().contains("batch-norm variant"));
    }

    @Test
    void unknownNameSuggestsTheClosest() {
        var e = assertThrows(IllegalArgumentException.class, () -> Zoo.build("resnet5", ZooOptions.defaults()));
        assertTrue(e.getMessage().contains("unknown model 'resnet5'"), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean 'resnet50'?"), e.getMessage());
        assertTrue(e.getMessage().contains("mobilenetv2-tiny"), "lists the known models: " + e.getMessage());
        var far = assertThrows(IllegalArgumentException.class, () -> Zoo.describe("alexnet-imagenet"));
        assertFalse(far.getMessage().contains("did you mean"), far.getMessage());
        assertTrue(far.getMessage().contains("known models: resnet50, resnet50-tiny"), far.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Zoo.describe("bert_tiny")).getMessage().contains("did you mean 'bert-tiny'?"));
    }

    @Test
    void optionsAModelDoesNotTakeAreRefused() {
        var seq = assertThrows(IllegalArgumentException.class, () -> Zoo.build("resnet50-tiny", ZooOptions.defaults().withSequenceLength(8)));
        assertTrue(seq.getMessage().contains("takes no sequence length"), seq.getMessage());
        var depth = assertThrows(IllegalArgumentException.class, () -> Zoo.build("googlenet-tiny", ZooOptions.defaults().withLayers(3)));
        assertTrue(depth.getMessage().contains("fixed depth"), depth.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Zoo.build("vit-tiny", ZooOptions.defaults().withSequenceLength(8)));
        var tooLong = assertThrows(IllegalArgumentException.class, () -> Zoo.build("bert-tiny", ZooOptions.defaults().withSequenceLength(65)));
        assertTrue(tooLong.getMessage().contains("at most 64 tokens"), tooLong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ZooOptions.defaults().withBatch(0));
        assertThrows(IllegalArgumentException.class, () -> ZooOptions.defaults().withLayers(-1));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 4})
    void everyTinyModelBuildsAndVerifies(int batch) {
        for (String n : Zoo.names()) {
            if (!isTwin(n)) continue;
            Graph g = Zoo.build(n, ZooOptions.defaults().withBatch(batch));
            Verifier.verify(g);
            assertEquals(n, g.name());
            for (Value in : g.inputs()) assertEquals(batch, in.type().shape().dim(0), n + " input " + in.name());
            for (Value out : g.outputs()) assertEquals(batch, out.type().shape().dim(0), n + " output " + out.name());
        }
    }

    @Test
    void classifierOutputsAreBatchByClasses() {
        for (String n : List.of("resnet50-tiny", "mobilenetv2-tiny", "googlenet-tiny", "vit-tiny")) {
            Graph g = Zoo.build(n, ZooOptions.defaults().withBatch(3));
            assertEquals(1, g.outputs().size(), n);
            assertEquals(Shape.of(3, 10), g.outputs().get(0).type().shape(), n);
            assertEquals("probabilities", g.outputs().get(0).name(), n);
            assertEquals("Softmax", g.outputs().get(0).producer().opName(), n);
        }
    }

    @Test
    void bertShapesFollowTheOptions() {
        Graph g = Zoo.build("bert-tiny", new ZooOptions(2, 8, 3, 7));
        assertEquals(List.of("input_ids", "attention_mask"), g.inputs().stream().map(Value::name).toList());
        assertEquals(Shape.of(2, 8), g.inputs().get(0).type().shape());
        assertEquals(Shape.of(2, 8, 128), g.value("last_hidden_state").type().shape());
        assertEquals(Shape.of(2, 128), g.value("pooler_output").type().shape());
        // embeddings LayerNorm plus two per layer
        assertEquals(1 + 2 * 3, g.opHistogram().get("LayerNormalization"));
        assertEquals(3, g.opHistogram().get("Softmax"));
        assertEquals(3, g.opHistogram().get("Gelu"));
    }

    @Test
    void vitDepthIsConfigurable() {
        Graph g = Zoo.build("vit-tiny", ZooOptions.defaults().withLayers(5));
        assertEquals(2 * 5 + 1, g.opHistogram().get("LayerNormalization"));
        assertEquals(5 + 1, g.opHistogram().get("Softmax"), "one per block plus the classifier's");
    }

    @Test
    void nodeAndWeightNamesReadLikeThePublishedModels() {
        Graph r = Zoo.build("resnet50-tiny", ZooOptions.defaults());
        assertOp(r, "conv1", "Conv");
        assertOp(r, "bn1", "BatchNormalization");
        assertOp(r, "layer1.0.conv1", "Conv");
        assertOp(r, "layer2.0.conv2", "Conv");
        assertOp(r, "layer4.0.downsample.0", "Conv");
        assertOp(r, "layer4.0.downsample.1", "BatchNormalization");
        assertOp(r, "layer3.0.add", "Add");
        assertOp(r, "fc", "Gemm");
        assertNotNull(r.value("layer1.0.conv1.weight"));
        assertNotNull(r.value("layer1.0.bn1.running_var"));
        // v1.5: the stride sits on the 3x3 convolution, not the first 1x1
        assertTrue(java.util.Arrays.equals(new long[] {2, 2}, node(r, "layer2.0.conv2").attrs().getInts("strides")));
        assertTrue(java.util.Arrays.equals(new long[] {1, 1}, node(r, "layer2.0.conv1").attrs().getInts("strides")));

        Graph m = Zoo.build("mobilenetv2-tiny", ZooOptions.defaults());
        assertOp(m, "features.2.depthwise.conv", "Conv");
        assertOp(m, "features.2.depthwise.relu6", "Clip");
        assertOp(m, "features.2.expand.conv", "Conv");
        assertNull(find(m, "features.1.expand.conv"), "the first block has expansion 1: no 1x1 expand");

        Graph gn = Zoo.build("googlenet-tiny", ZooOptions.defaults());
        assertOp(gn, "inception5b.concat", "Concat");
        assertOp(gn, "inception3a.branch3.1.conv", "Conv");
        Shape k5 = gn.value("inception3a.branch3.1.conv.weight").type().shape();
        assertEquals(Shape.of(4, 2, 5, 5), k5, "the third branch uses the paper's 5x5 kernel (3a: 16 -> 32 channels, /8)");

        Graph bert = Zoo.build("bert-tiny", ZooOptions.defaults());
        assertOp(bert, "embeddings.word_embeddings", "Gather");
        assertOp(bert, "embeddings.LayerNorm", "LayerNormalization");
        assertOp(bert, "encoder.layer.0.attention.self.query", "MatMul");
        assertOp(bert, "encoder.layer.1.attention.self.softmax", "Softmax");
        assertOp(bert, "encoder.layer.1.output.LayerNorm", "LayerNormalization");
        assertOp(bert, "pooler.dense", "Gemm");

        Graph vit = Zoo.build("vit-tiny", ZooOptions.defaults());
        assertOp(vit, "conv_proj", "Conv");
        assertOp(vit, "prepend_class_token", "Concat");
        assertOp(vit, "encoder.layers.encoder_layer_1.ln_2", "LayerNormalization");
        assertOp(vit, "encoder.layers.encoder_layer_0.mlp.1", "Gelu");
        assertOp(vit, "heads.head", "Gemm");
        assertNotNull(vit.value("encoder.pos_embedding"));
    }

    @Test
    void bertAttentionIsWrittenOutForThePatternMatcher() {
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults().withLayers(1));
        // scores = (q @ k^T) / sqrt(d) + mask; softmax; @ v
        Node softmax = node(g, "encoder.layer.0.attention.self.softmax");
        Node maskAdd = softmax.input(0).producer();
        assertEquals("Add", maskAdd.opName());
        Node div = maskAdd.input(0).producer();
        assertEquals("Div", div.opName());
        assertEquals(8.0, div.input(1).constantValue().getDouble(0), 1e-9, "sqrt(128 / 2 heads)");
        Node scores = div.input(0).producer();
        assertEquals("MatMul", scores.opName());
        assertEquals("Transpose", scores.input(1).producer().opName());
        assertEquals("Reshape", scores.input(1).producer().input(0).producer().opName());
        assertEquals(Shape.of(1, 2, 16, 16), softmax.output().type().shape());
        assertEquals(Shape.of(1, 1, 1, 16), maskAdd.input(1).type().shape());
    }

    /** A scaled-down twin ends in "-tiny" and has no twin itself ("convnext-tiny" is ConvNeXt-T; its twin "convnext-tiny-tiny"). */
    private static boolean isTwin(String n) {
        return n.endsWith("-tiny") && !Zoo.names().contains(n + "-tiny");
    }

    private static Node find(Graph g, String name) {
        return g.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElse(null);
    }

    private static Node node(Graph g, String name) {
        Node n = find(g, name);
        assertNotNull(n, "graph " + g.name() + " has no node '" + name + "'");
        return n;
    }

    private static void assertOp(Graph g, String name, String op) { assertEquals(op, node(g, name).opName(), name); }
}
