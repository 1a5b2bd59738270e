package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `tessel generate FILE.onnx --gpu` and `tessel serve-bench FILE.onnx --gpu` on a CUDA GPU (the command line finds the
 * GPU itself, so the emulated device does not stand in: without a GPU these are skipped, and OnnxGenerateTest checks the
 * refusal): llama-tiny written as a decoder-with-past ONNX file runs on FP16 and BF16 step engines, its first token the
 * CPU run's (the prefill's top-2 margin is wide), the lines say where the engines and the KV cache are, and
 * serve-bench's in-flight and static batching give every request the same tokens. The token-level comparisons with
 * the CPU decoder and the zoo's GPU runner are OnnxDecoderGpuTest's.
 */
@Tag("gpu")
class OnnxGenerateGpuTest {
    @TempDir static Path tmp;
    static Path onnx;

    @BeforeAll
    static void write() throws Exception { onnx = OnnxGenerateTest.writeLlamaTiny(tmp); }

    private static String line(CliRun r, String key) { return OnnxGenerateTest.line(r, key); }

    @Test
    void generateAndServeBenchRunTheFileOnGpuEngines() {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.tessel.runtime.Backend.detect() instanceof org.tessel.runtime.Backend.Gpu, "no CUDA GPU");
        String[] cpuOut = line(CliRun.of("generate", onnx.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "12"), "output").split(" ")[0].split(",");
        for (String precision : new String[] {"FP16", "BF16"}) {
            CliRun r = precision.equals("FP16") ? CliRun.of("generate", onnx.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "12", "--gpu")
                    : CliRun.of("generate", onnx.toString(), "--prompt-tokens", "9,8,7", "--max-new-tokens", "12", "--gpu", "--bf16");
            assertEquals(0, r.code(), r.err());
            System.out.println("RESULT|generate decoder_with_past.onnx --gpu " + precision + "|" + line(r, "output") + "|cpu " + String.join(",", cpuOut));
            String[] out = line(r, "output").split(" ")[0].split(",");
            assertEquals(12, out.length, r.out());
            assertEquals(cpuOut[0], out[0], precision + ": the first token");
            assertEquals("as stored in " + onnx + ", step engines at " + precision + " on the GPU", line(r, "weights"));
            assertTrue(line(r, "kv cache").contains(" in host memory (each step copies the past to the device and the present back)")
                    && line(r, "kv cache").contains("GPU backend (" + precision + " step engines, the KV cache in host memory"), r.out());
        }
        CliRun s = CliRun.of("serve-bench", onnx.toString(), "--gpu", "--requests", "6", "--seed", "3", "--prompt-len", "2-12", "--output-len", "2-10", "--kv-blocks", "16",
                "--block-size", "8", "--max-batch", "3", "--chunk", "8", "--warmup", "0", "--repeat", "1");
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("outputs identical for 6 of 6 requests") && s.out().contains("GPU backend (FP16 step engines"), s.out());
    }
}
