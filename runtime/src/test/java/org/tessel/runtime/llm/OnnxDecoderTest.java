package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.ir.onnx.ExternalData;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.Zoo;

/**
 * A decoder-with-past ONNX file with dynamic axes, written from the zoo's llama-tiny ({@link OnnxDecoderWriter}: standard
 * ops, transformers' input and output names), runs on {@link OnnxDecoder} with the zoo CPU runner's greedy tokens for the
 * same weights: one request, in-flight batching of requests of different lengths, speculative decoding as target and
 * as draft; engines stay few (past buckets); files that are not decoders with past are refused naming the file and input.
 */
class OnnxDecoderTest {
    private static final long SEED = 11;
    private static final DecoderConfig C = Zoo.decoder("llama-tiny", 0);
    @TempDir static Path tmp;
    static Path file;

    @BeforeAll
    static void write() throws Exception {
        file = tmp.resolve("llama-tiny-with-past.onnx");
        OnnxDecoderWriter.write("llama-tiny", C, SEED, null, file);
    }

    private static long[] alone(DecoderSteps<PagedKvCache> r, long[] prompt, int n) {
        BatchScheduler.Outcome o = new BatchScheduler(r, r.newCache(8, 32), BatchScheduler.Policy.IN_FLIGHT, 1, 64)
                .run(List.of(new Request("alone", prompt, n, 0, Sampler.greedy()))).outcomes().getFirst();
        assertTrue(!o.refused(), o.refusal());
        return o.output();
    }

    @Test
    void readsTheDecoderAndGeneratesTheZooRunnersTokens() {
        OnnxDecoder onnx = OnnxDecoder.load(file, C.maxPositions());
        assertEquals(C.layers(), onnx.config().layers());
        assertEquals(C.kvHeads(), onnx.config().kvHeads());
        assertEquals(C.headDim(), onnx.config().headDim());
        assertEquals(C.vocab(), onnx.config().vocab());
        assertTrue(onnx.batched());
        DecoderRunner zoo = new DecoderRunner("llama-tiny", C, SEED);
        long[] prompt = {7, 300, 12, 45, 99, 3, 250};
        // first-step logits of the whole prompt
        float[][] a = onnx.stepAllLogits(List.of(new DecoderRunner.Row("s", prompt)), onnx.newCache(8, 4)).getFirst();
        float[][] b = zoo.stepAllLogits(List.of(new DecoderRunner.Row("s", prompt)), zoo.newCache(8, 4)).getFirst();
        double worst = 0;
        for (int i = 0; i < prompt.length; i++)
            for (int v = 0; v < C.vocab(); v++) worst = Math.max(worst, Math.abs(a[i][v] - b[i][v]));
        assertTrue(worst < 1e-4, "logits differ by " + worst);
        // 40 new tokens: the past grows through buckets 16, 32 and 64
        long[] expected = alone(zoo, prompt, 40);
        long[] got = alone(onnx, prompt, 40);
        assertArrayEquals(expected, got);
        // prefill (8 new, past 16), then decode at past 16, 32, 64: plus the 1-row logits step above (also 8 x 16)
        assertEquals(4, onnx.enginesBuilt(), "engines: one per (rows, new-token bucket, past bucket)");
    }

    @Test
    void inFlightBatchingOfRequestsOfDifferentLengths() {
        OnnxDecoder onnx = OnnxDecoder.load(file, C.maxPositions());
        DecoderRunner zoo = new DecoderRunner("llama-tiny", C, SEED);
        List<Request> requests = List.of(
                new Request("a", new long[] {5, 6, 7}, 12, 0, Sampler.greedy()),
                new Request("b", new long[] {400, 3, 17, 88, 21, 9, 10, 11, 300, 2, 1}, 5, 0, Sampler.greedy()),
                new Request("c", new long[] {42}, 20, 0, Sampler.greedy()),
                new Request("d", new long[] {13, 14}, 9, 0, Sampler.greedy()));
        BatchScheduler.Report got = new BatchScheduler(onnx, onnx.newCache(4, 64), BatchScheduler.Policy.IN_FLIGHT, 3, 4).run(requests);
        for (BatchScheduler.Outcome o : got.outcomes()) {
            assertTrue(!o.refused(), o.refusal());
            assertArrayEquals(alone(zoo, o.request().prompt(), o.request().maxNewTokens()), o.output(), "request " + o.request().id());
        }
        assertTrue(got.steps() < requests.stream().mapToInt(r -> r.prompt().length + r.maxNewTokens()).sum(), "rows shared steps");
    }

    @Test
    void speculativeDecodingAsTargetAndAsDraft() {
        OnnxDecoder onnx = OnnxDecoder.load(file, C.maxPositions());
        DecoderRunner zoo = new DecoderRunner("llama-tiny", C, SEED);
        DecoderRunner firstLayer = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 1), SEED);
        long[] prompt = {7, 300, 12, 45, 99};
        long[] expected = alone(zoo, prompt, 21);
        var asTarget = new SpeculativeDecoder(onnx, firstLayer, 3).generate(prompt, 21, 4);
        assertArrayEquals(expected, asTarget.output());
        assertTrue(asTarget.proposed() > asTarget.accepted(), "some proposals rejected, so the cache was truncated: " + asTarget.accepted() + " of " + asTarget.proposed());
        var asDraft = new SpeculativeDecoder(zoo, onnx, 4).generate(prompt, 21, 4);
        assertArrayEquals(expected, asDraft.output());
        assertEquals(1.0, asDraft.acceptanceRate(), "the same model as draft: every proposal accepted");
    }

    @Test
    void withoutPositionIdsThePastGoesInAtItsExactLength() throws Exception {
        Path file = tmp.resolve("no-position-ids.onnx");
        Files.write(file, OnnxDecoderWriter.model("llama-tiny", C, SEED, null, false).toByteArray());
        OnnxDecoder onnx = OnnxDecoder.load(file, C.maxPositions());
        assertTrue(!onnx.bucketed() && !onnx.batched(), onnx.describe());
        assertTrue(onnx.describe().contains("no position_ids input, so the past goes in at its exact length"), onnx.describe());
        DecoderRunner zoo = new DecoderRunner("llama-tiny", C, SEED);
        long[] prompt = {7, 300, 12, 45, 99};
        assertArrayEquals(alone(zoo, prompt, 20), alone(onnx, prompt, 20));
        assertEquals(20, onnx.enginesBuilt(), "one engine per step: prefill, then a decode step per past length");
        List<Request> requests = List.of(new Request("a", new long[] {5, 6, 7}, 6, 0, Sampler.greedy()), new Request("b", new long[] {1, 2}, 6, 0, Sampler.greedy()));
        for (BatchScheduler.Outcome o : new BatchScheduler(onnx, onnx.newCache(4, 16), BatchScheduler.Policy.IN_FLIGHT, 2, 4).run(requests).outcomes())
            assertArrayEquals(alone(zoo, o.request().prompt(), 6), o.output(), "request " + o.request().id());
        DecoderRunner firstLayer = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 1), SEED);
        assertArrayEquals(alone(zoo, prompt, 12), new SpeculativeDecoder(onnx, firstLayer, 3).generate(prompt, 12, 4).output());
    }

    @Test
    void aModelExportedAtBatchOneRunsItsRowsOneByOne() throws Exception {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(file));
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInputCount(); i++) g.setInput(i, batchOne(g.getInput(i)));
        for (int i = 0; i < g.getOutputCount(); i++) g.setOutput(i, batchOne(g.getOutput(i)));
        Path one = tmp.resolve("batch1.onnx");
        Files.write(one, m.toBuilder().setGraph(g).build().toByteArray());
        OnnxDecoder onnx = OnnxDecoder.load(one, C.maxPositions());
        assertTrue(!onnx.batched());
        DecoderRunner zoo = new DecoderRunner("llama-tiny", C, SEED);
        List<Request> requests = List.of(new Request("a", new long[] {5, 6, 7}, 6, 0, Sampler.greedy()), new Request("b", new long[] {1, 2}, 6, 0, Sampler.greedy()));
        for (BatchScheduler.Outcome o : new BatchScheduler(onnx, onnx.newCache(4, 16), BatchScheduler.Policy.IN_FLIGHT, 2, 4).run(requests).outcomes())
            assertArrayEquals(alone(zoo, o.request().prompt(), 6), o.output(), "request " + o.request().id());
    }

    private static ValueInfoProto batchOne(ValueInfoProto vi) {
        var b = vi.toBuilder();
        b.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(0).clearDimParam().setDimValue(1);
        return b.build();
    }

    /** The model with its graph changed by {@code edit}, written beside the good one. */
    private static Path edited(String name, java.util.function.Consumer<GraphProto.Builder> edit) throws Exception {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(file));
        GraphProto.Builder g = m.getGraph().toBuilder();
        edit.accept(g);
        Path p = tmp.resolve(name);
        Files.write(p, m.toBuilder().setGraph(g).build().toByteArray());
        return p;
    }

    private static void removeInput(GraphProto.Builder g, String name) {
        for (int i = 0; i < g.getInputCount(); i++) if (g.getInput(i).getName().equals(name)) { g.removeInput(i); return; }
        throw new AssertionError("no input " + name);
    }

    private static void removeOutput(GraphProto.Builder g, String name) {
        for (int i = 0; i < g.getOutputCount(); i++) if (g.getOutput(i).getName().equals(name)) { g.removeOutput(i); return; }
        throw new AssertionError("no output " + name);
    }

    private static String refusal(Path p) {
        return assertThrows(IllegalArgumentException.class, () -> OnnxDecoder.load(p, null)).getMessage();
    }

    @Test
    void filesThatAreNotDecodersWithPastAreRefusedNamingTheFileAndTheInput() throws Exception {
        String m = refusal(edited("no-ids.onnx", g -> removeInput(g, "input_ids")));
        assertTrue(m.contains("no-ids.onnx is not a decoder with past") && m.contains("no input_ids input") && m.contains("inputs attention_mask, position_ids, past_key_values.0.key"), m);
        m = refusal(edited("no-logits.onnx", g -> removeOutput(g, "logits")));
        assertTrue(m.contains("no-logits.onnx") && m.contains("no logits output"), m);
        m = refusal(edited("present-mismatch.onnx", g -> { removeOutput(g, "present.1.key"); removeOutput(g, "present.1.value"); }));
        assertTrue(m.contains("present-mismatch.onnx: 2 layers of past key/value inputs but 1 of present outputs"), m);
        m = refusal(edited("half-layer.onnx", g -> removeInput(g, "past_key_values.1.value")));
        assertTrue(m.contains("half-layer.onnx: layer 1 has a past key but no value (past_key_values.1.key)"), m);
        m = refusal(edited("no-past.onnx", g -> { for (int l = 0; l < 2; l++) { removeInput(g, "past_key_values." + l + ".key"); removeInput(g, "past_key_values." + l + ".value"); } }));
        assertTrue(m.contains("no-past.onnx is not a decoder with past") && m.contains("no past key/value inputs"), m);
        m = refusal(edited("merged.onnx", g -> g.addInput(ValueInfoProto.newBuilder().setName("use_cache_branch"))));
        assertTrue(m.contains("input use_cache_branch not known") && m.contains("decoder_with_past_model.onnx"), m);
        m = refusal(edited("fixed-seq.onnx", g -> g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(1).clearDimParam().setDimValue(1)));
        assertTrue(m.contains("fixed-seq.onnx: input input_ids: dimension 1 (new tokens) is fixed at 1; Tessel needs it symbolic"), m);
        m = refusal(tmp.resolve("missing.onnx"));
        assertTrue(m.contains("missing.onnx") && m.contains("no such file"), m);
    }

    @Test
    void missingExternalDataIsRefusedNamingTheFile() throws Exception {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(file));
        ExternalData.Split split = ExternalData.externalize(m, "ext.onnx.data", 1024);
        Path model = tmp.resolve("ext.onnx");
        Files.write(model, split.model().toByteArray());
        String msg = refusal(model);
        assertTrue(msg.contains("ext.onnx") && msg.contains("ext.onnx.data"), msg);
        Files.write(tmp.resolve("ext.onnx.data"), split.data());
        assertEquals(C.vocab(), OnnxDecoder.load(model, null).config().vocab());
    }

    @Test
    void promptsLongerThanTheContextAreRefusedNamingTheRequest() {
        OnnxDecoder onnx = OnnxDecoder.load(file, 32);
        assertEquals(32, onnx.config().maxPositions());
        long[] prompt = new long[30];
        BatchScheduler.Outcome o = new BatchScheduler(onnx, onnx.newCache(8, 8), BatchScheduler.Policy.IN_FLIGHT, 1, 64)
                .run(List.of(new Request("long", prompt, 5, 0, Sampler.greedy()))).outcomes().getFirst();
        assertTrue(o.refused() && o.refusal().contains("request long") && o.refusal().contains("exceeds llama-tiny-with-past.onnx's 32 positions"), String.valueOf(o.refusal()));
        var e = assertThrows(IllegalArgumentException.class, () -> onnx.step(List.of(new DecoderRunner.Row("s", new long[40])), onnx.newCache(8, 8)));
        assertTrue(e.getMessage().contains("sequence s: 0 cached + 40 new tokens exceed llama-tiny-with-past.onnx's 32 positions"), e.getMessage());
    }
}
