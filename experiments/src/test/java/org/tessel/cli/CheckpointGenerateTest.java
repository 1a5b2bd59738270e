package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.HfCheckpoint;

/** `tessel generate DIR` on a Hugging Face checkpoint folder, text prompts through a tokenizer.json, and their refusals. */
class CheckpointGenerateTest {
    /** The byte-level fixture of the runtime's tokenizer tests: ids 0..255 the bytes, 256..261 merges, 262 &lt;|endoftext|&gt;. */
    static final Path TOKENIZER = Path.of("../runtime/src/test/resources/tokenizer/byte-level.json");

    static Path llamaTiny(Path dir, DecoderConfig c) throws Exception {
        HfCheckpoint.save(dir, Zoo.buildDecoder("llama-tiny", c, new DecoderShape(1, 1, 0), ZooOptions.DEFAULT_SEED), c, "F32");
        return dir;
    }

    private static String line(CliRun r, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + ": (.*)$").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        return m.group(1);
    }

    @Test
    void checkpointFolderGeneratesTheZooModelsTokensAlsoSpeculatively(@TempDir Path tmp) throws Exception {
        Path dir = llamaTiny(tmp.resolve("llama"), DecoderConfig.LLAMA_TINY);
        String zoo = line(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "9,8,7", "--max-new-tokens", "10"), "output");
        CliRun r = CliRun.of("generate", dir.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "10");
        assertEquals(0, r.code(), r.err());
        assertEquals(zoo, line(r, "output"));
        assertTrue(line(r, "model").startsWith(dir + " (Llama, 2 layers, width 64, 4 heads / 2 KV heads, vocab 512, 128 positions; trained weights from model.safetensors)"), r.out());

        CliRun s = CliRun.of("generate", dir.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "10", "--draft", dir.toString(), "--draft-layers", "1", "--speculate", "4");
        assertEquals(0, s.code(), s.err());
        assertEquals(zoo, line(s, "output"));
        assertTrue(line(s, "draft").startsWith(dir + " with 1 layer(s), 4 tokens proposed per round"), s.out());
        assertTrue(line(s, "acceptance").matches("\\d+ of \\d+ proposed tokens \\([0-9.]+%; trained weights\\).*"), s.out());
        assertTrue(line(s, "target alone").matches("[0-9.]+ ms for 10 tokens \\([0-9.]+ tokens/s\\), the same tokens; speed-up [0-9.]+x"), s.out());
    }

    /** The runtime's torch.save fixture (benchmarks/peers/make_torch_checkpoint.py): pytorch_model.bin, whole and sharded, and the same weights as safetensors. */
    @Test
    void torchSaveCheckpointsGenerateTheirSafetensorsTwinsTokens() {
        Path fixture = Path.of("../runtime/src/test/resources/torch-checkpoint");
        String want = line(CliRun.of("generate", fixture.resolve("expected").toString(), "--prompt-tokens", "3,1,4,1,5", "--max-new-tokens", "8"), "output");
        for (String form : new String[] {"bin", "bin-sharded"}) {
            CliRun r = CliRun.of("generate", fixture.resolve(form).toString(), "--prompt-tokens", "3,1,4,1,5", "--max-new-tokens", "8");
            assertEquals(0, r.code(), r.err());
            assertEquals(want, line(r, "output"), form);
            assertTrue(line(r, "model").endsWith("trained weights from " + (form.equals("bin") ? "pytorch_model.bin)" : "pytorch_model.bin.index.json)")), r.out());
        }
    }

    @Test
    void textPromptsGoThroughTheFoldersTokenizer(@TempDir Path tmp) throws Exception {
        Path dir = llamaTiny(tmp.resolve("llama"), DecoderConfig.LLAMA_TINY);
        Files.copy(TOKENIZER, dir.resolve("tokenizer.json"));
        CliRun r = CliRun.of("generate", dir.toString(), "--prompt", "hello the world", "--max-new-tokens", "6");
        assertEquals(0, r.code(), r.err());
        assertEquals("261,258,32,119,111,114,108,100 (8 tokens)", line(r, "prompt"));
        assertEquals("\"hello the world\"", line(r, "prompt text"));
        String ids = line(CliRun.of("generate", "zoo:llama-tiny", "--prompt-tokens", "261,258,32,119,111,114,108,100", "--max-new-tokens", "6"), "output");
        assertEquals(ids, line(r, "output"));
        assertTrue(line(r, "output text").startsWith("\"") || line(r, "output text").startsWith("(id "), r.out());
        // --tokenizer names the file explicitly, on a zoo model too; the id prompt stays
        CliRun z = CliRun.of("generate", "zoo:llama-tiny", "--tokenizer", TOKENIZER.toString(), "--prompt-tokens", "104,105", "--max-new-tokens", "2");
        assertEquals(0, z.code(), z.err());
        assertEquals("\"hi\"", line(z, "prompt text"));
    }

    @Test
    void badRequestsAreOneLineNamingWhatIsWrong(@TempDir Path tmp) throws Exception {
        DecoderConfig small = new DecoderConfig(DecoderConfig.Family.LLAMA, 200, 128, 64, 2, 4, 2, 172, 1e-5f, false, 10000);
        Path dir = llamaTiny(tmp.resolve("small"), small);
        assertEquals("tessel generate: tokenizer " + TOKENIZER + " has 263 ids but MODEL " + dir + " has embedding rows for 200 (vocab_size): its ids 200 and up have no row; "
                        + "refusing --prompt \"hi\": use the model's own tokenizer",
                CliRun.of("generate", dir.toString(), "--tokenizer", TOKENIZER.toString(), "--prompt", "hi", "--max-new-tokens", "2").err().strip());
        assertEquals("tessel generate: --prompt TEXT needs a tokenizer: give --tokenizer FILE (a Hugging Face tokenizer.json), or a checkpoint folder holding tokenizer.json "
                        + "(or an ONNX file with tokenizer.json beside it)",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt", "hi", "--max-new-tokens", "2").err().strip());
        assertEquals("tessel generate: --prompt and --prompt-tokens exclude each other: give the prompt once",
                CliRun.of("generate", "zoo:llama-tiny", "--prompt", "hi", "--prompt-tokens", "1", "--max-new-tokens", "2").err().strip());
        assertEquals("tessel generate: no prompt: give --prompt TEXT (with a tokenizer) or --prompt-tokens ID,ID,...",
                CliRun.of("generate", "zoo:llama-tiny", "--max-new-tokens", "2").err().strip());
        // a checkpoint runs on the GPU runner too: here, without a GPU, only the device is missing
        String gpu = CliRun.of("generate", dir.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2", "--gpu").err().strip();
        assertTrue(gpu.startsWith("tessel generate: --gpu needs a CUDA GPU, and this machine has none"), gpu);
        Files.delete(dir.resolve("model.safetensors"));
        assertEquals("tessel generate: " + dir.resolve("model.safetensors") + ": missing, as are model.safetensors.index.json, pytorch_model.bin and pytorch_model.bin.index.json "
                        + "(a checkpoint folder holds its weights in one of them)",
                CliRun.of("generate", dir.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2").err().strip());
        String empty = CliRun.of("generate", tmp.toString(), "--prompt-tokens", "1", "--max-new-tokens", "2").err().strip();
        assertTrue(empty.contains("; this folder has no config.json"), empty);
    }
}
