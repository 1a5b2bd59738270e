package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.OpRegistry;

/** `tessel ops --gpu [--json] [--node-cases DIR]`: per registered op, whether a catalogue GPU tactic supports a real node of it, and the ratio. */
class OpsGpuCoverageTest {
    @TempDir Path dir;

    private static Map<String, JsonNode> byOp(JsonNode root) {
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode o : root.get("ops")) m.put(o.get("op").asText(), o);
        return m;
    }

    @Test void theJsonCoversEveryRegisteredOpWithTheRatioAndControlFlowApart() throws Exception {
        CliRun r = CliRun.of("ops", "--gpu", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode root = new ObjectMapper().readTree(r.out());
        int ops = OpRegistry.global().all().size();
        assertEquals(ops, root.get("ops_reference_runs").asInt());
        assertEquals(ops, root.get("ops").size());
        int gpu = root.get("ops_with_gpu_tactic").asInt(), decomposed = root.get("decomposed").asInt();
        assertEquals((gpu + decomposed) + "/" + ops, root.get("ratio").asText());
        assertEquals(gpu + decomposed + root.get("cpu_only").asInt() + root.get("unprobed").asInt(), ops);
        Map<String, JsonNode> m = byOp(root);
        assertEquals("gpu", m.get("Conv").get("status").asText());
        assertTrue(m.get("Conv").get("gpu_tactics").toString().contains("cudnn.conv.fused_bias_act"), m.get("Conv").toString());
        assertTrue(m.get("tessel.Fused").get("gpu_tactics").toString().contains("tessel.attention"), m.get("tessel.Fused").toString());
        // LSTM runs tessel.recurrent: probed on the paper-faithful CRNN's nodes
        assertEquals("gpu", m.get("LSTM").get("status").asText(), m.get("LSTM").toString());
        assertTrue(m.get("LSTM").get("gpu_tactics").toString().contains("tessel.recurrent"), m.get("LSTM").toString());
        assertTrue(m.get("LSTM").get("probe_nodes").asInt() > 0);
        // imports fold every Constant node into a value: it is probed on a node built from its schema, which tessel.constant runs
        assertEquals("gpu", m.get("Constant").get("status").asText(), m.get("Constant").toString());
        assertTrue(m.get("Constant").get("gpu_tactics").toString().contains("tessel.constant"), m.get("Constant").toString());
        // tessel.PagedAttention exists only in the paged step graph: probed on llama-tiny's paged decode step
        assertEquals("gpu", m.get("tessel.PagedAttention").get("status").asText(), m.get("tessel.PagedAttention").toString());
        assertTrue(m.get("tessel.PagedAttention").get("gpu_tactics").toString().contains("tessel.attention.paged"), m.get("tessel.PagedAttention").toString());
        // TensorRT's EfficientNMS_TRT: probed on ssdlite-nms-tiny's node
        assertEquals("gpu", m.get("TRT.EfficientNMS_TRT").get("status").asText(), m.get("TRT.EfficientNMS_TRT").toString());
        assertTrue(m.get("TRT.EfficientNMS_TRT").get("gpu_tactics").toString().contains("tessel.nms.efficient"), m.get("TRT.EfficientNMS_TRT").toString());
        assertEquals(4, root.get("control_flow").size());
        assertEquals("If", root.get("control_flow").get(0).get("op").asText());
    }

    @Test void theTableEndsWithTheRatioAndNodeCasesProbeOpsTheZooLacks() throws Exception {
        Path cases = Path.of(System.getProperty("tessel.shared", "/work/shared"), "onnx-node");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(cases), "ONNX node cases not found at " + cases + "; skipping");
        Path some = Files.createDirectories(dir.resolve("cases"));
        // eight small cases, copied into the test's own folder (a few KB each)
        for (String c : new String[] {"test_abs", "test_matmul_2d", "test_reshape_reordered_all_dims", "test_attention_4d_gqa_causal", "test_einsum_batch_matmul_bfloat16",
                "test_einsum_batch_diagonal", "test_rotary_embedding_3d_input", "test_rotary_embedding_with_interleaved_rotary_dim"})
            try (var files = Files.walk(cases.resolve(c))) {
                for (Path f : files.toList()) {
                    Path to = some.resolve(c).resolve(cases.resolve(c).relativize(f).toString());
                    if (Files.isDirectory(f)) Files.createDirectories(to);
                    else Files.copy(f, to);
                }
            }
        CliRun r = CliRun.of("ops", "--gpu", "--node-cases", some.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("ONNX node cases in " + some + " (8 imported, 0 refused by the importer)"), r.out());
        assertTrue(r.out().matches("(?s).*\\nAbs +yes +1 +tessel\\.eltwise\\n.*"), r.out());
        // Attention, Einsum and RotaryEmbedding have no GPU tactic: the preparation pipeline writes them out in ops that have (a diagonal Einsum stays)
        assertTrue(r.out().matches("(?s).*\\nAttention +decomposed +1 +1 of 1 graphs prepare into [^\\n]*MatMul[^\\n]*Softmax.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\nEinsum +decomposed +2 +1 of 2 graphs prepare into [^\\n]*MatMul.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\nRotaryEmbedding +decomposed +2 +2 of 2 graphs prepare into [^\\n]*tessel\\.RotaryEmbedding [^\\n]*tessel\\.rope.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\nConv +yes +\\d+ +[^\\n]*cudnn\\.conv\\.fused_bias_act.*"), r.out());
        assertTrue(r.out().contains("control flow (apart: they hold subgraphs, which the importer refuses):"), r.out());
        assertTrue(r.out().matches("(?s).*ops with a GPU tactic or a decomposition the GPU runs / ops the reference runs: \\d+/" + OpRegistry.global().all().size() + " \\(\\d+\\.\\d%\\).*"), r.out());
        CliRun bad = CliRun.of("ops", "--json");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--json goes with --gpu"), bad.err());
    }
}
