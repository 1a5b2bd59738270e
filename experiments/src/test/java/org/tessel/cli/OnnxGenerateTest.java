package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.OnnxDecoderWriter;

/**
 * `tessel generate FILE.onnx` and `tessel serve-bench FILE.onnx` on a decoder-with-past ONNX file of llama-tiny, and their
 * refusals; with --gpu on a machine without a CUDA GPU, the zoo path's refusal (the GPU runs are OnnxDecoderGpuTest's).
 */
class OnnxGenerateTest {
    @TempDir static Path tmp;
    static Path onnx;

    @BeforeAll
    static void write() throws Exception { onnx = writeLlamaTiny(tmp); }

    /** llama-tiny written as a decoder-with-past ONNX file under {@code tmp}, a config.json beside it. */
    static Path writeLlamaTiny(Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("llama"));
        Path file = dir.resolve("decoder_with_past.onnx");
        OnnxDecoderWriter.write("llama-tiny", DecoderConfig.LLAMA_TINY, ZooOptions.DEFAULT_SEED, null, file);
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"num_attention_heads\": 4, \"max_position_embeddings\": 128, \"vocab_size\": 512}");
        return file;
    }

    /** The text after "KEY: " on its line of the run's output. */
    static String line(CliRun r, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + ": (.*)$").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        return m.group(1);
    }

    @Test
    void generatesTheZooModelsTokensAlsoSpeculatively() {
        String zoo = line(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "9,8,7", "--max-new-tokens", "20"), "output");
        CliRun r = CliRun.of("generate", onnx.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "20");
        assertEquals(0, r.code(), r.err());
        assertEquals(zoo, line(r, "output"));
        assertEquals(onnx + " (ONNX decoder with past, 2 layers, 2 KV heads of 16, vocab 512, 128 positions from config.json; past padded to power-of-two buckets of at least 16)",
                line(r, "model"));
        assertEquals("as stored in " + onnx, line(r, "weights"));

        CliRun s = CliRun.of("generate", onnx.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "20", "--draft", "zoo:llama-tiny", "--draft-layers", "1");
        assertEquals(0, s.code(), s.err());
        assertEquals(zoo, line(s, "output"));
        assertTrue(line(s, "target alone").contains("the same tokens"), s.out());
    }

    @Test
    void textPromptsGoThroughTheTokenizerBesideTheFile() throws Exception {
        Files.copy(CheckpointGenerateTest.TOKENIZER, onnx.resolveSibling("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try {
            CliRun r = CliRun.of("generate", onnx.toString(), "--prompt", "hello the world", "--max-new-tokens", "6");
            assertEquals(0, r.code(), r.err());
            assertEquals("261,258,32,119,111,114,108,100 (8 tokens)", line(r, "prompt"));
            assertEquals(line(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "261,258,32,119,111,114,108,100", "--max-new-tokens", "6"), "output"), line(r, "output"));
        } finally {
            Files.delete(onnx.resolveSibling("tokenizer.json"));
        }
    }

    @Test
    void serveBenchServesTheFile() {
        CliRun r = CliRun.of("serve-bench", onnx.toString(), "--requests", "6", "--seed", "3", "--prompt-len", "2-12", "--output-len", "2-10", "--kv-blocks", "16",
                "--block-size", "8", "--max-batch", "3", "--chunk", "8", "--warmup", "0", "--repeat", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("outputs identical for 6 of 6 requests"), r.out());
        assertTrue(line(r, "model").startsWith(onnx + " (ONNX decoder with past"), r.out());
    }

    @Test
    void badInputIsOneLineNamingTheFileAndTheInput() throws Exception {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        var g = m.getGraph().toBuilder();
        g.removeInput(0); // input_ids
        Path broken = tmp.resolve("llama/broken.onnx");
        Files.write(broken, m.toBuilder().setGraph(g).build().toByteArray());
        String err = CliRun.of("generate", broken.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2").err().strip();
        assertTrue(err.startsWith("tessel generate: " + broken + " is not a decoder with past (inputs attention_mask, position_ids, past_key_values.0.key")
                && err.endsWith("no input_ids input") && !err.contains("\n"), err);
        err = CliRun.of("serve-bench", broken.toString(), "--requests", "2").err().strip();
        assertTrue(err.startsWith("tessel serve-bench: " + broken + " is not a decoder with past") && !err.contains("\n"), err);
        err = CliRun.of("generate", onnx.toString(), "--prompt-tokens", String.join(",", java.util.Collections.nCopies(130, "5")), "--max-new-tokens", "2").err().strip();
        assertEquals("tessel generate: request generate: its prompt of 130 tokens is longer than decoder_with_past.onnx's 128 positions", err);
        assertEquals("tessel generate: --layers 1: " + onnx + " is an ONNX file and runs all its layers; drop --layers",
                CliRun.of("generate", onnx.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2", "--layers", "1").err().strip());
        assertEquals("tessel serve-bench: --weights, --awq and --smoothquant quantize zoo and checkpoint decoders; " + onnx + " (an ONNX file) runs as stored: drop them",
                CliRun.of("serve-bench", onnx.toString(), "--weights", "int8").err().strip());
        Path missing = tmp.resolve("nothing.onnx");
        err = CliRun.of("generate", missing.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2").err().strip();
        assertTrue(err.startsWith("tessel generate: ") && err.contains("nothing.onnx") && err.contains("no such file") && !err.contains("\n"), err);
    }

    /**
     * --gpu with an ONNX file, alone and with --bf16 or --draft (either side an ONNX file), in generate and serve-bench: the
     * flags are accepted and, on a machine without a CUDA GPU, refused in the zoo path's one line; flags the ONNX path
     * cannot honour are refused naming the flag, with or without a GPU.
     */
    @Test
    void gpuIsAcceptedAndRefusedClearlyWithoutACudaGpu() {
        String[] gen = {"generate", onnx.toString(), "--prompt-tokens", "1,2", "--max-new-tokens", "2", "--gpu"};
        assertEquals("tessel generate: --kv-cache applies to zoo decoders and checkpoints; an ONNX decoder keeps its own cache: drop --kv-cache",
                CliRun.of(concat(gen, "--kv-cache", "fp8")).err().strip());
        assertEquals("tessel generate: --lora serves adapters on zoo and checkpoint decoders; " + onnx + " (an ONNX file) has none: drop --lora",
                CliRun.of(concat(gen, "--lora", "m=random:4")).err().strip());
        assertEquals("tessel generate: --weights, --awq and --smoothquant quantize zoo and checkpoint decoders; " + onnx + " (an ONNX file) runs as stored: drop them",
                CliRun.of(concat(gen, "--weights", "int8")).err().strip());
        assertEquals("tessel generate: --layers 1: " + onnx + " is an ONNX file and runs all its layers; drop --layers", CliRun.of(concat(gen, "--layers", "1")).err().strip());
        String[] serve = {"serve-bench", onnx.toString(), "--requests", "2", "--gpu"};
        assertEquals("tessel serve-bench: --sessions runs zoo decoders and checkpoints; an ONNX decoder keeps its own cache: drop it",
                CliRun.of(concat(serve, "--sessions", "2")).err().strip());
        assertEquals("tessel serve-bench: --kv-cache runs zoo decoders and checkpoints; an ONNX decoder keeps its own cache: drop it",
                CliRun.of(concat(serve, "--kv-cache", "fp8")).err().strip());

        org.junit.jupiter.api.Assumptions.assumeTrue(org.tessel.runtime.Backend.detect() instanceof org.tessel.runtime.Backend.Cpu, "this machine has a CUDA GPU");
        for (String[] extra : new String[][] {{}, {"--bf16"}, {"--draft", "zoo:llama-tiny", "--draft-layers", "1"}, {"--draft", onnx.toString()}}) {
            CliRun g = CliRun.of(concat(gen, extra));
            assertEquals(2, g.code(), g.err());
            assertTrue(g.err().strip().startsWith("tessel generate: --gpu needs a CUDA GPU, and this machine has none (") && g.err().strip().endsWith("drop --gpu to run on CPU engines")
                    && !g.err().strip().contains("\n"), String.join(" ", extra) + ": " + g.err());
        }
        CliRun d = CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "1,2", "--max-new-tokens", "2", "--gpu", "--draft", onnx.toString());
        assertTrue(d.err().strip().startsWith("tessel generate: --gpu needs a CUDA GPU, and this machine has none ("), "an ONNX draft: " + d.err());
        for (String[] extra : new String[][] {{}, {"--bf16"}}) {
            CliRun s = CliRun.of(concat(serve, extra));
            assertEquals(2, s.code(), s.err());
            assertTrue(s.err().strip().startsWith("tessel serve-bench: --gpu needs a CUDA GPU, and this machine has none (") && s.err().strip().endsWith("drop --gpu to run on CPU engines"),
                    String.join(" ", extra) + ": " + s.err());
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
