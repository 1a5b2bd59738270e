package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.cost.Precision;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.Zoo;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineException;

/**
 * {@link OnnxDecoder#onGpu}: llama-tiny written as a decoder-with-past ONNX file ({@link OnnxDecoderWriter}), its step
 * engines planned by the joint search and built as GPU engines (the KV cache in host memory, copied per step), against
 * the CPU {@link OnnxDecoder} and the zoo's {@link GpuDecoderRunner} of the same weights. Three prompts of 5, 3 and 11
 * tokens share every step (one prefill step of all three, then decode steps through past buckets 16 and 32). FP32:
 * the CPU decoder's greedy tokens exactly, also under in-flight batching. FP16, teacher-forced with the CPU decoder's
 * tokens: logits within FP16's tolerance, and wherever the CPU's top-2 margin exceeds twice the step's error (of
 * either GPU runner) the same greedy token from the CPU decoder, the ONNX file's GPU engines and the zoo's GPU runner,
 * as {@code KvCacheFp8GpuTest} judges it. BF16: within BF16's rounding, as the zoo runner's BF16 steps are judged. On the emulated device the planner forces the MatMuls onto tessel.matmul, as
 * {@link GpuDecoderRunnerGpuTest}'s does.
 */
@Tag("gpu")
class OnnxDecoderGpuTest {
    private static final long SEED = GpuDecoderRunnerGpuTest.SEED;
    private static final DecoderConfig C = Zoo.decoder("llama-tiny", 0);
    private static final long[][] PROMPTS = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
    /** Enough steps that the longest row's past passes 16 tokens: decode engines at past buckets 16 and 32. */
    private static final int STEPS = 8;
    @TempDir static Path tmp;
    static Path file;

    @BeforeAll
    static void write() throws Exception {
        file = tmp.resolve("llama-tiny-with-past.onnx");
        OnnxDecoderWriter.write("llama-tiny", C, SEED, null, file);
    }

    @Test
    void fp32GpuEnginesGiveTheCpuDecodersGreedyTokens() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        OnnxDecoder cpu = OnnxDecoder.load(file, C.maxPositions());
        PagedKvCache cpuCache = cpu.newCache(4, 64);
        List<long[]> want = GpuDecoderRunnerGpuTest.greedy(PROMPTS, STEPS, rows -> cpu.step(rows, cpuCache));
        try (OnnxDecoder gpu = cpu.onGpu(ctx, GpuEngine.Precision.FP32, GpuDecoderRunnerGpuTest.planner(Precision.FP32, false), true)) {
            assertEquals(GpuEngine.Precision.FP32, gpu.gpuPrecision());
            PagedKvCache cache = gpu.newCache(4, 64);
            List<long[]> got = GpuDecoderRunnerGpuTest.greedy(PROMPTS, STEPS, rows -> gpu.step(rows, cache));
            for (int i = 0; i < PROMPTS.length; i++) assertArrayEquals(want.get(i), got.get(i), "row " + i + " (prompt of " + PROMPTS[i].length + ")");
            assertTrue(gpu.graphReplays() > 0, "decode steps replay their captured CUDA graph");
            assertEquals(0, cpu.graphReplays());
            assertEquals(3, gpu.enginesBuilt(), "prefill (3 rows, 16 new, past 16), decode at past 16 and 32");
            assertTrue(gpu.describeBackend().startsWith("GPU backend (FP32 step engines, the KV cache in host memory"), gpu.describeBackend());

            // in-flight batching: rows joining and leaving, prefill chunked to 4
            List<Request> requests = List.of(
                    new Request("a", new long[] {5, 6, 7, 8, 9, 10}, 5, 0, Sampler.greedy()),
                    new Request("b", new long[] {300, 301}, 3, 0, Sampler.greedy()),
                    new Request("c", new long[] {42, 43, 44, 45, 46}, 4, 0, Sampler.greedy()));
            var cpuRun = new BatchScheduler(cpu, cpu.newCache(4, 24), BatchScheduler.Policy.IN_FLIGHT, 3, 4).run(requests);
            PagedKvCache served = gpu.newCache(4, 24);
            var gpuRun = new BatchScheduler(gpu, served, BatchScheduler.Policy.IN_FLIGHT, 3, 4).run(requests);
            for (int i = 0; i < requests.size(); i++)
                assertArrayEquals(cpuRun.outcomes().get(i).output(), gpuRun.outcomes().get(i).output(), "in-flight request " + requests.get(i).id());
            assertEquals(cpuRun.steps(), gpuRun.steps(), "the same schedule");
            assertEquals(served.numBlocks(), served.freeBlocks(), "every block is back on the free list");
        }
    }

    @Test
    void fp16StepsGiveTheCpuDecodersAndTheZooGpuRunnersTokensOnDecisiveSteps() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        OnnxDecoder cpu = OnnxDecoder.load(file, C.maxPositions());
        PagedKvCache cpuCache = cpu.newCache(4, 64);
        int decisive = 0, agree = 0;
        double worstRel = 0;
        try (OnnxDecoder onnx = cpu.onGpu(ctx, GpuEngine.Precision.FP16, GpuDecoderRunnerGpuTest.planner(Precision.FP16, false), true);
             GpuDecoderRunner zoo = GpuDecoderRunnerGpuTest.gpuRunner("llama-tiny", ctx); GpuPagedKvCache zooCache = zoo.newCache(4, 64)) {
            PagedKvCache onnxCache = onnx.newCache(4, 64);
            List<DecoderRunner.Row> rows = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) rows.add(new DecoderRunner.Row("s" + i, PROMPTS[i]));
            for (int k = 0; k < STEPS; k++) {
                List<float[]> want = cpu.step(rows, cpuCache), got = onnx.step(rows, onnxCache), zooGot = zoo.step(rows, zooCache);
                rows = new ArrayList<>();
                for (int i = 0; i < PROMPTS.length; i++) {
                    float[] w = want.get(i), g = got.get(i), z = zooGot.get(i);
                    double err = 0, num = 0, den = 0;
                    for (int v = 0; v < w.length; v++) {
                        err = Math.max(err, Math.max(Math.abs(w[v] - g[v]), Math.abs(w[v] - z[v])));
                        num += (double) (w[v] - g[v]) * (w[v] - g[v]);
                        den += (double) w[v] * w[v];
                    }
                    double rel = Math.sqrt(num / den);
                    worstRel = Math.max(worstRel, rel);
                    assertTrue(rel <= GpuTestSupport.tolerance(org.tessel.api.DType.F16), "step " + k + ", row " + i + ": relative L2 " + rel);
                    float[] sorted = w.clone();
                    java.util.Arrays.sort(sorted);
                    long tw = Sampler.greedy().next(w), tg = Sampler.greedy().next(g), tz = Sampler.greedy().next(z);
                    if (sorted[sorted.length - 1] - sorted[sorted.length - 2] > 2 * err) {
                        decisive++;
                        assertEquals(tw, tg, "step " + k + ", row " + i + ": decisive margin, error " + err + " (ONNX file's GPU engines against the CPU decoder)");
                        assertEquals(tz, tg, "step " + k + ", row " + i + ": decisive margin, error " + err + " (ONNX file's GPU engines against the zoo's GPU runner)");
                    }
                    if (tw == tg && tz == tg) agree++;
                    rows.add(new DecoderRunner.Row("s" + i, new long[] {tw}));
                }
            }
            assertEquals(GpuEngine.Precision.FP16, onnx.gpuPrecision());
            assertTrue(onnx.graphReplays() > 0, "decode steps replay their captured CUDA graph");
        }
        System.out.printf("RESULT|llama-tiny ONNX decoder FP16 GPU engines vs CPU decoder|max relative L2 %.4g|greedy agreement %d/%d (%d decisive)%n",
                worstRel, agree, STEPS * PROMPTS.length, decisive);
        assertTrue(decisive >= STEPS * PROMPTS.length / 2, decisive + " decisive steps of " + STEPS * PROMPTS.length);
    }

    /**
     * BF16 step engines (planned at BF16, the MatMuls held there), teacher-forced with the CPU decoder's tokens, with the
     * zoo runner's BF16 bound (GpuDecoderRunnerServingGpuTest): every step's logits within 4e-2 relative L2 of the CPU
     * decoder's (BF16 keeps 8 mantissa bits: about 8 times FP16's drift), and the CPU's token wherever its top-2 margin
     * exceeds twice the step's error (on the emulated device row 2's first token is a near tie that BF16 flips).
     */
    @Test
    void bf16StepsFollowTheCpuDecoderWithinBf16Rounding() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        OnnxDecoder cpu = OnnxDecoder.load(file, C.maxPositions());
        PagedKvCache cpuCache = cpu.newCache(4, 64);
        int steps = 4;
        try (OnnxDecoder gpu = cpu.onGpu(ctx, GpuEngine.Precision.BF16, GpuDecoderRunnerGpuTest.planner(Precision.BF16, false), true)) {
            PagedKvCache cache = gpu.newCache(4, 64);
            List<DecoderRunner.Row> rows = new ArrayList<>();
            for (int i = 0; i < PROMPTS.length; i++) rows.add(new DecoderRunner.Row("s" + i, PROMPTS[i]));
            double worst = 0;
            int decisive = 0;
            for (int k = 0; k < steps; k++) {
                List<float[]> want = cpu.step(rows, cpuCache), got = gpu.step(rows, cache);
                rows = new ArrayList<>();
                for (int i = 0; i < PROMPTS.length; i++) {
                    float[] w = want.get(i), g = got.get(i);
                    double num = 0, den = 0, err = 0;
                    for (int v = 0; v < w.length; v++) {
                        num += (double) (w[v] - g[v]) * (w[v] - g[v]);
                        den += (double) w[v] * w[v];
                        err = Math.max(err, Math.abs(w[v] - g[v]));
                    }
                    double rel = Math.sqrt(num / den);
                    worst = Math.max(worst, rel);
                    assertTrue(rel <= 4e-2, "step " + k + ", row " + i + ": relative L2 " + rel);
                    float[] sorted = w.clone();
                    java.util.Arrays.sort(sorted);
                    long tw = Sampler.greedy().next(w);
                    if (sorted[sorted.length - 1] - sorted[sorted.length - 2] > 2 * err) {
                        decisive++;
                        assertEquals(tw, Sampler.greedy().next(g), "step " + k + ", row " + i + ": decisive margin, error " + err);
                    }
                    rows.add(new DecoderRunner.Row("s" + i, new long[] {tw}));
                }
            }
            assertEquals(GpuEngine.Precision.BF16, gpu.gpuPrecision());
            System.out.printf("RESULT|llama-tiny ONNX decoder BF16 GPU engines vs CPU decoder|max relative L2 %.4g|%d decisive steps of %d%n", worst, decisive, steps * PROMPTS.length);
        }
    }

    @Test
    void aQuantizedPrecisionOrAPlanAtAnotherPrecisionIsRefusedNamingIt() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        OnnxDecoder cpu = OnnxDecoder.load(file, C.maxPositions());
        var e = assertThrows(IllegalArgumentException.class, () -> cpu.onGpu(ctx, GpuEngine.Precision.INT8, GpuDecoderRunnerGpuTest.planner(Precision.FP16, false), true));
        assertTrue(e.getMessage().startsWith(file + ": an ONNX decoder's GPU engines compute at FP32, TF32, FP16 or BF16") && e.getMessage().endsWith("not INT8"), e.getMessage());
        try (OnnxDecoder gpu = cpu.onGpu(ctx, GpuEngine.Precision.FP16, GpuDecoderRunnerGpuTest.planner(Precision.FP32, false), true)) {
            var x = assertThrows(GpuEngineException.class, () -> gpu.step(List.of(new DecoderRunner.Row("s", new long[] {1, 2})), gpu.newCache(4, 8)));
            assertTrue(x.getMessage().startsWith(file + ": the plan for the step at batch 1, 2 new tokens, past 16 runs most of its layers at FP32")
                    && x.getMessage().endsWith("plan the step at FP16"), x.getMessage());
        }
    }
}
