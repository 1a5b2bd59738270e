package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.EngineFormatException;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * A GPU engine's life beyond one run: saved and loaded (same plan, same outputs bit for bit,
 * kernels from the file's PTX), several execution contexts running at once from several threads,
 * wrong inputs and out-of-memory refused with clear errors that leave device memory where it was,
 * and the per-layer profile with its layer-info JSON.
 */
@Tag("gpu")
class EngineLifecycleGpuTest {
    @TempDir Path dir;

    static Graph optimized(String model, int batch) {
        Graph g = Zoo.build(model, ZooOptions.defaults().withBatch(batch));
        new PassManager().run(g, StandardPipelines.STANDARD);
        return g;
    }

    static Tensor input(Graph g, long seed) {
        Value in = g.inputs().get(0);
        return GpuTestSupport.random(new SplittableRandom(seed), DType.F32, in.type().shape(), -2, 2);
    }

    @Test
    void savedEngineLoadsWithTheSamePlanAndOutputs() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = optimized("mobilenetv2", 2);
        Tensor x = input(g, 3);
        Path file = dir.resolve("mobilenetv2.tessel");
        List<Tensor> before;
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx, GpuEngine.Options.tuned(null));
             GpuExecutionContext c = e.createExecutionContext()) {
            before = c.run(List.of(x));
            long t0 = System.nanoTime();
            e.save(file);
            System.out.printf("RESULT|engine-file save mobilenetv2 FP16|-|-|-|-|%.1f MiB in %.2f s, %d layers|ok%n", Files.size(file) / 1048576.0,
                    (System.nanoTime() - t0) / 1e9, e.layerPlans().size());
        }
        long t0 = System.nanoTime();
        try (GpuEngine loaded = GpuEngine.load(file, ctx); GpuExecutionContext c = loaded.createExecutionContext()) {
            double loadS = (System.nanoTime() - t0) / 1e9;
            assertEquals(GpuEngine.Precision.FP16, loaded.precision());
            assertTrue(loaded.kernelsFromFile() > 0, "kernels should come from the file's PTX, not NVRTC");
            assertEquals(0, loaded.compiler().moduleCount() - loaded.kernelsFromFile(), "every kernel should come from the file");
            List<Tensor> after = c.captureGraph().run(List.of(x));
            for (int i = 0; i < after.size(); i++) assertArrayEquals(before.get(i).floats(), after.get(i).floats(), "output " + i + " after load");
            System.out.printf("RESULT|engine-file load mobilenetv2 FP16|-|-|-|-|loaded in %.2f s, %d kernels from PTX, outputs identical|ok%n", loadS, loaded.kernelsFromFile());
        }
        // a flipped byte in the payload: the checksum catches it, nothing is allocated
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x40;
        Path bad = dir.resolve("corrupt.tessel");
        Files.write(bad, bytes);
        long[] free0 = ctx.memoryInfo();
        EngineFormatException ex = assertThrows(EngineFormatException.class, () -> GpuEngine.load(bad, ctx));
        System.out.println("RESULT|engine-file corrupt|-|-|-|-|" + ex.getMessage().lines().findFirst().orElse("") + "|ok");
        assertTrue(Math.abs(ctx.memoryInfo()[0] - free0[0]) < (64L << 20), "device memory moved after a refused load");
    }

    @Test
    void contextsRunConcurrentlyFromSeveralThreads() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = optimized("resnet50", 4);
        int n = 4;
        List<Tensor> inputs = new ArrayList<>();
        for (int i = 0; i < n; i++) inputs.add(input(g, 100 + i));
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx)) {
            // expected outputs, one context, one after another
            List<List<Tensor>> expected = new ArrayList<>();
            try (GpuExecutionContext c = e.createExecutionContext()) {
                for (Tensor x : inputs) expected.add(c.run(List.of(x)));
            }
            List<GpuExecutionContext> contexts = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(n);
            try {
                for (int i = 0; i < n; i++) contexts.add(e.createExecutionContext().captureGraph());
                List<Future<List<Tensor>>> results = new ArrayList<>();
                for (int round = 0; round < 5; round++)
                    for (int i = 0; i < n; i++) {
                        int k = i;
                        results.add(pool.submit(() -> { ctx.bind(); return contexts.get(k).run(List.of(inputs.get(k))); }));
                    }
                for (int j = 0; j < results.size(); j++) {
                    List<Tensor> got = results.get(j).get();
                    List<Tensor> want = expected.get(j % n);
                    for (int o = 0; o < got.size(); o++) assertArrayEquals(want.get(o).floats(), got.get(o).floats(), "context " + (j % n) + " output " + o);
                }
                System.out.printf("RESULT|contexts resnet50 b4 FP16|-|-|-|-|%d contexts x 5 rounds on %d threads, %.1f MiB each, outputs identical to one context|ok%n",
                        n, n, contexts.get(0).deviceBytes() / 1048576.0);
            } finally {
                pool.shutdownNow();
                for (GpuExecutionContext c : contexts) c.close();
            }
        }
    }

    /** Independent branches on several streams (eager and CUDA-graph replay) give exactly the one-stream outputs. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"resnet50", "googlenet"})
    void severalStreamsGiveTheOneStreamOutputs(String model) {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = optimized(model, 1);
        try {
            GpuEngine.requireSupported(g);
        } catch (GpuEngineException e) {
            org.junit.jupiter.api.Assumptions.abort(model + " has no GPU engine yet: " + e.getMessage());
        }
        Tensor x = input(g, 21);
        List<Tensor> one;
        double oneMs;
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx); GpuExecutionContext c = e.createExecutionContext()) {
            one = c.run(List.of(x));
            oneMs = GpuExecutionContext.quantile(c.captureGraph().time(10, 50), 0.5);
        }
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 4); GpuExecutionContext c = e.createExecutionContext()) {
            assertTrue(e.streamCount() > 1, model + " should have independent branches");
            List<Tensor> eager = c.run(List.of(x));
            List<Tensor> replay = c.captureGraph().run(List.of(x));
            for (int i = 0; i < one.size(); i++) {
                assertArrayEquals(one.get(i).floats(), eager.get(i).floats(), "eager output " + i);
                assertArrayEquals(one.get(i).floats(), replay.get(i).floats(), "replayed output " + i);
            }
            double multiMs = GpuExecutionContext.quantile(c.time(10, 50), 0.5);
            System.out.printf("RESULT|streams %s b1 FP16|-|-|-|-|%d streams: %.3f ms, one stream %.3f ms, arena %.2f MiB; outputs identical|ok%n", model,
                    e.streamCount(), multiMs, oneMs, e.arenaBytes() / 1048576.0);
        }
    }

    @Test
    void wrongInputsAreRefusedAndTheContextStillWorks() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = optimized("mobilenetv2", 1);
        Tensor x = input(g, 5);
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext c = e.createExecutionContext()) {
            List<Tensor> good = c.run(List.of(x));
            Tensor wrongBatch = Tensor.zeros(DType.F32, Shape.of(2, 3, 224, 224));
            GpuEngineException a = assertThrows(GpuEngineException.class, () -> c.run(List.of(wrongBatch)));
            assertTrue(a.getMessage().contains("batch 1"), a.getMessage());
            Tensor wrongType = Tensor.zeros(DType.F16, x.shape());
            GpuEngineException b = assertThrows(GpuEngineException.class, () -> c.run(List.of(wrongType)));
            assertTrue(b.getMessage().contains("f32"), b.getMessage());
            GpuEngineException m = assertThrows(GpuEngineException.class, () -> c.run(Map.of("image", x)));
            assertTrue(m.getMessage().contains("missing input"), m.getMessage());
            List<Tensor> again = c.run(List.of(x));
            for (int i = 0; i < good.size(); i++) assertArrayEquals(good.get(i).floats(), again.get(i).floats());
            System.out.println("RESULT|wrong inputs|-|-|-|-|" + a.getMessage() + "|ok");
        }
    }

    @Test
    void outOfMemoryIsAClearErrorAndFreesEverything() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        long[] before = ctx.memoryInfo();
        // ResNet-50's activations at a batch whose arena is several times the device's memory
        int batch = (int) Math.min(1 << 20, Math.max(1024, before[1] / (6L << 20) * 4));
        Graph g = optimized("resnet50", batch);
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(g, GpuEngine.Precision.FP32, ctx));
        assertTrue(e.getMessage().contains("out of device memory"), e.getMessage());
        long[] after = ctx.memoryInfo();
        System.out.printf("RESULT|out of memory resnet50 b%d|-|-|-|-|%s; free before %.2f GiB, after %.2f GiB|ok%n", batch,
                e.getMessage().lines().findFirst().orElse(""), before[0] / 1073741824.0, after[0] / 1073741824.0);
        assertTrue(Math.abs(after[0] - before[0]) < (64L << 20), "device memory should return to where it was: free before " + before[0] + ", after " + after[0]);
        // and the device still builds and runs engines
        Graph small = optimized("mobilenetv2", 1);
        try (GpuEngine ok = GpuEngine.build(small, GpuEngine.Precision.FP16, ctx); GpuExecutionContext c = ok.createExecutionContext()) {
            assertEquals(small.outputs().size(), c.run(List.of(input(small, 1))).size());
        }
    }

    @Test
    void perLayerProfileAndLayerInfo() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph g = optimized("resnet50", 1);
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP16, ctx); GpuExecutionContext c = e.createExecutionContext()) {
            c.run(List.of(input(g, 9)));
            List<GpuExecutionContext.LayerTime> times = c.profileLayers(3, 10);
            assertEquals(e.layerPlans().size(), times.size());
            double sum = 0;
            for (GpuExecutionContext.LayerTime t : times) {
                assertTrue(t.medianMs() >= 0, t.toString());
                sum += t.medianMs();
            }
            String json = c.layerInfoJson(times);
            assertTrue(json.contains("\"tactic\": \"cudnn.conv.fused_bias_act/"), json.substring(0, Math.min(400, json.length())));
            assertEquals(times.size(), json.split("\"time_ms\"").length - 1);
            double replay = GpuExecutionContext.quantile(c.captureGraph().time(5, 20), 0.5);
            System.out.printf("RESULT|profile resnet50 b1 FP16|-|-|-|-|%d layers, per-layer sum %.3f ms, graph replay %.3f ms|ok%n", times.size(), sum, replay);
            // each layer timed in a graph of its own: the sum is the replay's within the replays' own launches (eagerly
            // enqueued, cuDNN's host cost made it 7.0 ms against 0.34)
            assertTrue(sum > 0 && sum < 2 * replay, "per-layer sum " + sum + " ms against a replay of " + replay + " ms");
        }
    }
}
