package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.io.SafeTensors;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;

/** A checkpoint folder written from the zoo's llama-tiny (transformers' names and [out, in] layout) computes the zoo model's logits. */
class HfCheckpointTest {
    static final long SEED = ZooOptions.DEFAULT_SEED;
    static final long[] PROMPT = {7, 300, 12, 45, 99, 511, 0};

    static Path write(Path dir, DecoderConfig c, String dtype) throws Exception {
        HfCheckpoint.save(dir, Zoo.buildDecoder("llama-tiny", c, new DecoderShape(1, 1, 0), SEED), c, dtype);
        return dir;
    }

    /** Logits of the prompt (prefill) and of two decode steps after it. */
    static List<float[]> logits(DecoderRunner r) {
        PagedKvCache cache = r.newCache(4, 8);
        List<float[]> out = new java.util.ArrayList<>(List.of(r.stepAllLogits(List.of(new DecoderRunner.Row("s", PROMPT)), cache).getFirst()));
        out.add(r.step(List.of(new DecoderRunner.Row("s", new long[] {3})), cache).getFirst());
        out.add(r.step(List.of(new DecoderRunner.Row("s", new long[] {400})), cache).getFirst());
        return out;
    }

    static DecoderRunner loaded(HfCheckpoint ck) {
        return new DecoderRunner(ck.name(), ck.config(), SEED, ck.weights(), LlmQuantization.uncalibrated(QuantizationSpec.FP32));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void f32CheckpointComputesTheZooModelsLogitsExactly(boolean tied, @TempDir Path dir) throws Exception {
        DecoderConfig c = DecoderConfig.LLAMA_TINY.withTiedHead(tied);
        HfCheckpoint ck = HfCheckpoint.load(write(dir.resolve("tiny"), c, "F32"));
        assertEquals(c, ck.config());
        assertEquals(tied, !SafeTensors.read(dir.resolve("tiny/model.safetensors")).tensors().containsKey("lm_head.weight"));
        // transformers' layout: q_proj [out, in]
        assertEquals(Shape.of(64, 64), SafeTensors.read(dir.resolve("tiny/model.safetensors")).tensors().get("model.layers.0.self_attn.q_proj.weight").shape());
        assertEquals(Shape.of(64, 172), ck.weights().get("model.layers.1.mlp.gate_proj.weight").shape());
        List<float[]> want = logits(new DecoderRunner("llama-tiny", c, SEED)), got = logits(loaded(ck));
        for (int i = 0; i < want.size(); i++) assertArrayEquals(want.get(i), got.get(i), "step " + i);
    }

    /**
     * The GPU runner's paged step graphs take a checkpoint's weights as the CPU runner's contiguous ones do: a checkpoint
     * written from llama-tiny at another seed gives the paged graph that seed's constants, every one of them, whatever
     * seed the runner is given.
     */
    @Test void pagedStepGraphsTakeTheCheckpointsWeights(@TempDir Path dir) throws Exception {
        DecoderConfig c = DecoderConfig.LLAMA_TINY;
        HfCheckpoint.save(dir, Zoo.buildDecoder("llama-tiny", c, new DecoderShape(1, 1, 0), SEED + 1), c, "F32");
        HfCheckpoint ck = HfCheckpoint.load(dir);
        org.tessel.ir.zoo.PagedDecoderShape shape = new org.tessel.ir.zoo.PagedDecoderShape(1, 1, 2, 4, 8);
        org.tessel.ir.Graph loaded = Zoo.buildPagedDecoder("llama-tiny", c, shape, SEED, ck.weights(), org.tessel.ir.zoo.KvCacheFormat.NATIVE);
        org.tessel.ir.Graph trained = Zoo.buildPagedDecoder("llama-tiny", c, shape, SEED + 1), seeded = Zoo.buildPagedDecoder("llama-tiny", c, shape, SEED);
        int weights = 0;
        for (org.tessel.ir.Value v : trained.constants()) {
            if (!v.type().dtype().isFloating()) continue; // shape and index constants
            float[] want = v.constantValue().floats(), got = loaded.value(v.name()).constantValue().floats();
            assertArrayEquals(want, got, v.name());
            if (!java.util.Arrays.equals(want, seeded.value(v.name()).constantValue().floats())) weights++;
        }
        assertTrue(weights >= c.layers() * 7, "constants that differ between the seeds (at least the 7 projections per layer): " + weights);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F16", "BF16"})
    void halfCheckpointsHoldTheRoundedWeights(String dtype, @TempDir Path dir) throws Exception {
        DecoderConfig c = DecoderConfig.LLAMA_TINY;
        HfCheckpoint ck = HfCheckpoint.load(write(dir, c, dtype));
        float[] orig = Zoo.buildDecoder("llama-tiny", c, new DecoderShape(1, 1, 0), SEED).value("model.layers.0.self_attn.k_proj.weight").constantValue().floats();
        float[] got = ck.weights().get("model.layers.0.self_attn.k_proj.weight").floats();
        double maxErr = 0;
        for (int i = 0; i < orig.length; i++) {
            float rounded = dtype.equals("F16") ? Float.float16ToFloat(Float.floatToFloat16(orig[i]))
                    : Float.intBitsToFloat((Float.floatToRawIntBits(orig[i]) + 0x7fff + ((Float.floatToRawIntBits(orig[i]) >>> 16) & 1)) & 0xffff0000);
            assertEquals(rounded, got[i], "element " + i);
            maxErr = Math.max(maxErr, Math.abs(orig[i] - got[i]));
        }
        assertTrue(maxErr > 0, "the rounding changed some weight");
        // the logits move by the rounding only: at most 1% (F16) or 5% (BF16) of their largest magnitude
        List<float[]> want = logits(new DecoderRunner("llama-tiny", c, SEED)), have = logits(loaded(ck));
        double diff = 0, scale = 0;
        for (int i = 0; i < want.size(); i++)
            for (int j = 0; j < want.get(i).length; j++) {
                diff = Math.max(diff, Math.abs(want.get(i)[j] - have.get(i)[j]));
                scale = Math.max(scale, Math.abs(want.get(i)[j]));
            }
        System.out.printf("%s: logits max abs difference %.4g, largest logit %.4g%n", dtype, diff, scale);
        assertTrue(diff > 0 && diff <= (dtype.equals("F16") ? 0.01 : 0.05) * scale, dtype + ": " + diff + " of " + scale);
    }

    @Test
    void badCheckpointsAreRefusedNamingFileAndTensor(@TempDir Path dir) throws Exception {
        DecoderConfig c = DecoderConfig.LLAMA_TINY;
        Path good = write(dir.resolve("good"), c, "F32");
        Path weights = good.resolve("model.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>(SafeTensors.read(weights).tensors());

        Path missing = copyConfig(good, dir.resolve("missing"));
        Map<String, Tensor> less = new LinkedHashMap<>(tensors);
        less.remove("model.layers.1.mlp.up_proj.weight");
        SafeTensors.write(missing.resolve("model.safetensors"), less, Map.of());
        assertRefused(missing, missing.resolve("model.safetensors") + ": tensor model.layers.1.mlp.up_proj.weight is missing");

        Path shape = copyConfig(good, dir.resolve("shape"));
        Map<String, Tensor> wrong = new LinkedHashMap<>(tensors);
        wrong.put("model.layers.0.self_attn.k_proj.weight", Tensor.ofFloats(Shape.of(64, 32), new float[64 * 32]));
        SafeTensors.write(shape.resolve("model.safetensors"), wrong, Map.of());
        assertRefused(shape, shape.resolve("model.safetensors") + ": tensor model.layers.0.self_attn.k_proj.weight has shape [64,32], config.json gives [32,64]");

        Path extra = copyConfig(good, dir.resolve("extra"));
        Map<String, Tensor> more = new LinkedHashMap<>(tensors);
        more.put("model.layers.0.self_attn.q_proj.bias", Tensor.ofFloats(Shape.of(64), new float[64]));
        SafeTensors.write(extra.resolve("model.safetensors"), more, Map.of());
        assertRefused(extra, "tensor model.layers.0.self_attn.q_proj.bias is not part of a LlamaForCausalLM");

        Path dtype = copyConfig(good, dir.resolve("dtype"));
        byte[] bytes = Files.readAllBytes(weights);
        String header = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = header.indexOf("\"F32\""); // the first tensor's dtype: I64 has as many bytes, so the offsets still hold
        System.arraycopy("\"I64\"".getBytes(StandardCharsets.ISO_8859_1), 0, bytes, at, 5);
        Files.write(dtype.resolve("model.safetensors"), bytes);
        assertRefused(dtype, dtype.resolve("model.safetensors") + ": tensor model.embed_tokens.weight: dtype I64 is not a floating type");

        Path config = dir.resolve("config");
        Files.createDirectories(config);
        Files.copy(weights, config.resolve("model.safetensors"));
        Files.writeString(config.resolve("config.json"), Files.readString(good.resolve("config.json")).replace("\"num_hidden_layers\": 2, ", ""));
        assertRefused(config, config.resolve("config.json") + ": num_hidden_layers is missing");
        Files.writeString(config.resolve("config.json"), Files.readString(good.resolve("config.json")).replace("\"llama\"", "\"gpt2\""));
        assertRefused(config, config.resolve("config.json") + ": model_type is 'gpt2'");
        Files.writeString(config.resolve("config.json"), Files.readString(good.resolve("config.json")).replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        assertRefused(config, config.resolve("config.json") + ": 4 heads cannot be shared by 3 key/value heads");

        Files.writeString(config.resolve("config.json"), Files.readString(good.resolve("config.json")).replace("\"rope_theta\": 10000.0", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"));
        assertRefused(config, config.resolve("config.json") + ": rope_scaling {rope_type=llama3, factor=8.0} is not supported");
        // transformers 5 writes rope_theta inside rope_parameters
        Files.writeString(config.resolve("config.json"), Files.readString(good.resolve("config.json"))
                .replace("\"rope_theta\": 10000.0", "\"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"default\"}"));
        assertEquals(500000.0, HfCheckpoint.readConfig(config).ropeTheta());

        Path none = dir.resolve("none");
        Files.createDirectories(none);
        Files.copy(good.resolve("config.json"), none.resolve("config.json"));
        assertRefused(none, none.resolve("model.safetensors") + ": missing");
    }

    private static Path copyConfig(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        Files.copy(from.resolve("config.json"), to.resolve("config.json"));
        return to;
    }

    private static void assertRefused(Path dir, String message) {
        var e = assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.load(dir));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
