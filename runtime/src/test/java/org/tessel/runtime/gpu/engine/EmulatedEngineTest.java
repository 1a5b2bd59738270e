package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.FusedEltwiseKernel;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.LayerNorm;
import org.tessel.runtime.gpu.kernels.MoreKernels;
import org.tessel.runtime.gpu.kernels.GlobalPool;
import org.tessel.runtime.gpu.kernels.Pool2d;
import org.tessel.runtime.gpu.kernels.Reformat;
import org.tessel.runtime.gpu.kernels.Softmax;

/**
 * Tessel's kernels and the GPU builder's layers on the emulated device (a CPU test, no GPU): kernels
 * through their Java wrappers against the reference interpreter, a small engine whose every layer
 * is a tessel.* kernel (eager and replayed as a CUDA graph; saving it is refused), and the refusal of
 * a layer that needs cuBLASLt. What this checks is kernel logic and launch arguments, never speed.
 */
class EmulatedEngineTest {
    static CudaContext ctx;
    static KernelCompiler kc;
    static final CudaStream S = CudaStream.DEFAULT;

    @BeforeAll static void open() {
        ctx = CudaContext.emulated(Math.min(4, Runtime.getRuntime().availableProcessors()), 1L << 30);
        kc = new KernelCompiler(ctx);
    }

    @AfterAll static void close() {
        kc.close();
        ctx.close();
    }

    /** Runs {@code g}'s single op through {@code kernel} on uploaded inputs and compares the output with the reference interpreter. */
    private static void check(String what, Graph g, Map<String, Tensor> inputs, DType t, double tol, KernelRun kernel) {
        Value out = g.outputs().get(0);
        Tensor ref = GpuTestSupport.reference(g, inputs).get(out.name());
        List<DeviceBuffer> ins = new ArrayList<>();
        try (DeviceBuffer y = GpuTestSupport.poisoned(t, out.type().numElements())) {
            for (Value v : g.inputs()) ins.add(HostTensors.upload(inputs.get(v.name()), t));
            kernel.run(ins, y);
            assertClose(what + " (emulated)", HostTensors.download(y, t, out.type().shape()), ref, tol);
        } finally {
            ins.forEach(DeviceBuffer::close);
        }
    }

    interface KernelRun { void run(List<DeviceBuffer> in, DeviceBuffer out); }

    @Test void kernelsThroughTheirWrappersMatchTheReference() {
        SplittableRandom r = new SplittableRandom(5);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();

        checks.check("softmax f16", () -> {
            NetworkBuilder b = new NetworkBuilder("softmax");
            Graph g = b.output(b.softmax(b.input("x", DType.F16, 6, 300), -1)).build();
            check("tessel.softmax f16", g, Map.of("x", GpuTestSupport.random(r, DType.F16, Shape.of(6, 300), -4, 4)), DType.F16, 1e-2,
                    (in, y) -> Softmax.run(kc, DType.F16, in.get(0), y, 6, 300, S));
        });
        checks.check("layernorm f32", () -> {
            NetworkBuilder b = new NetworkBuilder("layernorm");
            Value gamma = b.uniformWeights("gamma", 0.5f, 1.5f, 200), beta = b.uniformWeights("beta", -1, 1, 200);
            Graph g = b.output(b.layerNorm(b.input("x", DType.F32, 5, 200), gamma, beta, -1, 1e-5f)).build();
            try (DeviceBuffer dg = HostTensors.upload(gamma.constantValue()); DeviceBuffer db = HostTensors.upload(beta.constantValue())) {
                check("tessel.layernorm f32", g, Map.of("x", GpuTestSupport.random(r, DType.F32, 5, 200)), DType.F32, 1e-4,
                        (in, y) -> LayerNorm.run(kc, DType.F32, in.get(0), dg, db, y, 5, 200, 1e-5f, S));
            }
        });
        checks.check("transpose f32", () -> {
            NetworkBuilder b = new NetworkBuilder("transpose");
            Graph g = b.output(b.transpose(b.input("x", DType.F32, 3, 37, 45), 0, 2, 1)).build();
            check("tessel.reformat f32", g, Map.of("x", GpuTestSupport.random(r, DType.F32, 3, 37, 45)), DType.F32, 0,
                    (in, y) -> Reformat.transpose(kc, DType.F32, in.get(0), y, 3, 37, 45, S));
        });
        checks.check("eltwise f32", () -> {
            NetworkBuilder b = new NetworkBuilder("eltwise");
            Value x = b.input("x", DType.F32, 2, 8, 5, 7), z = b.input("z", DType.F32, 2, 8, 5, 7);
            Graph g = b.output(b.sigmoid(b.sub(b.relu(b.mul(x, b.scalar("two", DType.F32, 2))), z))).build();
            check("tessel.eltwise.fused f32", g, Map.of("x", GpuTestSupport.random(r, DType.F32, 2, 8, 5, 7), "z", GpuTestSupport.random(r, DType.F32, 2, 8, 5, 7)),
                    DType.F32, 1e-6, (in, y) -> {
                        try (FusedEltwiseKernel k = FusedEltwiseKernel.compile(kc, g)) {
                            k.run(in, List.of(y), S);
                        }
                    });
        });
        for (int[] dims : new int[][] {{4, 100, 1}, {4, 10, 7}}) // a block per row (cooperative), and a thread per output (plain)
            checks.check("reduce mean " + java.util.Arrays.toString(dims), () -> {
                NetworkBuilder b = new NetworkBuilder("reduce");
                Value x = b.input("x", DType.F32, dims);
                Graph g = b.output(b.op("ReduceMean", Attributes.builder().put("keepdims", 0L).build(), x, b.longs("axes", 1))).build();
                check("tessel.reduce mean " + java.util.Arrays.toString(dims), g, Map.of("x", GpuTestSupport.random(r, DType.F32, dims)), DType.F32, 1e-5,
                        (in, y) -> MoreKernels.reduce(kc, DType.F32, MoreKernels.ReduceOp.MEAN, in.get(0), y, dims[0], dims[1], dims[2], S));
            });
        checks.check("maxpool f32", () -> {
            NetworkBuilder b = new NetworkBuilder("pool");
            Graph g = b.output(b.maxPool(b.input("x", DType.F32, 2, 3, 11, 11), 3, 2, 1)).build();
            Pool2d.Window w = new Pool2d.Window(2, 3, 11, 11, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false);
            check("tessel.pool max f32", g, Map.of("x", GpuTestSupport.random(r, DType.F32, 2, 3, 11, 11)), DType.F32, 0,
                    (in, y) -> Pool2d.run(kc, DType.F32, Pool2d.Mode.MAX, Layout.NCHW, w, in.get(0), y, S));
        });
        // global average pools: planes wider than a block (a thread strides positions), NHWC channels not a multiple of 8
        // (element loads) and a multiple (16-byte loads), each whole and with its positions cut into slices (the plan for
        // a GPU of 132 SMs, which slices these few planes; 1 SM: one slice)
        checks.check("global pool nchw f32", () -> {
            NetworkBuilder b = new NetworkBuilder("gap");
            Graph g = b.output(b.op("GlobalAveragePool", Attributes.empty(), b.input("x", DType.F32, 2, 3, 67, 71))).build();
            for (int sms : new int[] {1, 132}) {
                GlobalPool.Plan p = GlobalPool.plan(Layout.NCHW, 2, 3, 67, 71, sms);
                assertEquals(sms == 1 ? 1 : 2, p.slices(), "slices of 67 x 71 planes for " + sms + " SMs");
                try (DeviceBuffer ws = DeviceBuffer.allocate(Math.max(4, p.workspaceBytes()))) {
                    check("tessel.pool.global nchw f32, " + p.slices() + " slices", g, Map.of("x", GpuTestSupport.random(r, DType.F32, 2, 3, 67, 71)), DType.F32, 1e-5,
                            (in, y) -> GlobalPool.run(kc, DType.F32, p, in.get(0), y, ws, S));
                }
            }
        });
        for (int c : new int[] {13, 40})
            checks.check("global pool nhwc f16 c" + c, () -> {
                NetworkBuilder b = new NetworkBuilder("gap");
                Graph g = b.output(b.op("GlobalAveragePool", Attributes.empty(), b.input("x", DType.F16, 2, c, 40, 41))).build();
                Tensor x = GpuTestSupport.random(r, DType.F16, Shape.of(2, c, 40, 41), -2, 2);
                Tensor ref = GpuTestSupport.reference(g, Map.of("x", x)).get(g.outputs().get(0).name());
                for (int sms : new int[] {1, 132}) {
                    GlobalPool.Plan p = GlobalPool.plan(Layout.NHWC, 2, c, 40, 41, sms);
                    assertEquals(sms == 1 ? 1 : 3, p.slices(), "slices of " + c + " channels of 40 x 41 for " + sms + " SMs");
                    try (DeviceBuffer xb = HostTensors.upload(HostTensors.toChannelsLast(x), DType.F16); DeviceBuffer y = GpuTestSupport.poisoned(DType.F16, 2 * c);
                         DeviceBuffer ws = DeviceBuffer.allocate(Math.max(4, p.workspaceBytes()))) {
                        GlobalPool.run(kc, DType.F16, p, xb, y, ws, S);
                        assertClose("tessel.pool.global nhwc f16 c" + c + ", " + p.slices() + " slices (emulated)", HostTensors.download(y, DType.F16, ref.shape()), ref, 2e-3);
                    }
                }
            });
        // depthwise convolutions (bias, ReLU6's clamp): f16 with C a multiple of 8 (8 channels a thread, 16-byte loads),
        // f16 with 12 channels and f32 (a channel a thread); stride 2 with pads, and a dilated 5 x 5
        int[][] dwCases = {{2, 16, 9, 11, 3, 2, 1, 1}, {1, 12, 8, 7, 3, 1, 1, 1}, {1, 8, 10, 10, 5, 1, 4, 2}};
        for (int[] dc : dwCases)
            for (DType t : new DType[] {DType.F16, DType.F32})
                checks.check("depthwise " + t.text() + " " + java.util.Arrays.toString(dc), () -> GpuTestSupport.checkDepthwise(kc, r, t, dc, S, " (emulated)"));
        checks.check("concat f32", () -> {
            NetworkBuilder b = new NetworkBuilder("concat");
            Graph g = b.output(b.concat(1, b.input("a", DType.F32, 2, 3, 5), b.input("c", DType.F32, 2, 4, 5))).build();
            check("tessel.concat f32", g, Map.of("a", GpuTestSupport.random(r, DType.F32, 2, 3, 5), "c", GpuTestSupport.random(r, DType.F32, 2, 4, 5)), DType.F32, 0,
                    (in, y) -> {
                        CnnKernels.concatCopy(kc, 4, in.get(0), y, 2, 15 * 4, 35 * 4, 0, S);
                        CnnKernels.concatCopy(kc, 4, in.get(1), y, 2, 20 * 4, 35 * 4, 15 * 4, S);
                    });
        });
        checks.done();
    }

    /** Eltwise, pooling, concat, transpose, softmax, layer norm and a reduction: every layer a tessel.* kernel. */
    static Graph tesselOnlyGraph() {
        NetworkBuilder b = new NetworkBuilder("tessel_only");
        Value x = b.input("x", DType.F32, 2, 8, 12, 12);
        Value y = b.relu(b.add(b.mul(x, b.scalar("two", DType.F32, 2)), b.uniformWeights("bias", -1, 1, 8, 1, 1)));
        Value c = b.concat(1, b.maxPool(y, 2, 2, 0), b.avgPool(y, 2, 2, 0));                       // [2, 16, 6, 6]
        Value t = b.transpose(b.reshape(c, 2, 16, 36), 0, 2, 1);                                   // [2, 36, 16]
        Value n = b.layerNorm(b.softmax(t, -1), b.uniformWeights("gamma", 0.5f, 1.5f, 16), b.uniformWeights("beta", -1, 1, 16), -1, 1e-5f);
        b.output(b.name("normed").tanh(n));
        b.output(b.name("mean").op("ReduceMean", Attributes.builder().put("keepdims", 0L).build(), t, b.longs("axes", 1)));
        return b.build();
    }

    @Test void aSmallEngineOfTesselKernelsMatchesTheReference() {
        Graph g = tesselOnlyGraph();
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", GpuTestSupport.random(new SplittableRandom(3), DType.F32, 2, 8, 12, 12));
        Map<String, Tensor> ref = GpuTestSupport.reference(g, in);
        for (GpuEngine.Precision p : new GpuEngine.Precision[] {GpuEngine.Precision.FP32, GpuEngine.Precision.FP16}) {
            try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                Map<String, Long> tactics = ZooEngineGpuTest.tactics(e);
                assertTrue(tactics.keySet().stream().allMatch(k -> k.startsWith("tessel.")), "every layer a Tessel kernel: " + tactics);
                GpuEngineException save = assertThrows(GpuEngineException.class, () -> e.save(java.nio.file.Path.of("target", "emulated.engine")));
                assertTrue(save.getMessage().startsWith("the emulated sm_90 on the CPU"), save.getMessage());
                double tol = p == GpuEngine.Precision.FP32 ? 1e-4 : 1e-2;
                for (boolean graph : new boolean[] {false, true}) {
                    if (graph) c.captureGraph();
                    Map<String, Tensor> got = c.run(in);
                    for (String o : List.of("normed", "mean"))
                        assertClose("engine " + p + (graph ? " graph" : " eager") + " %" + o + " (emulated)", got.get(o), ref.get(o), tol);
                }
            }
        }
    }

    /**
     * The per-layer profile times each layer as a CUDA graph of its own (copies back to back): one entry per layer, and the
     * next run still computes the outputs from the inputs, though profiling ran each layer over its own output.
     */
    @Test void aLayerProfileLeavesTheNextRunCorrect() {
        Graph g = tesselOnlyGraph();
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("x", GpuTestSupport.random(new SplittableRandom(4), DType.F32, 2, 8, 12, 12));
        Map<String, Tensor> ref = GpuTestSupport.reference(g, in);
        try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext c = e.createExecutionContext()) {
            c.run(in);
            List<GpuExecutionContext.LayerTime> times = c.profileLayers(1, 2);
            assertEquals(e.layerPlans().size(), times.size());
            assertTrue(times.stream().allMatch(t -> t.medianMs() >= 0 && Double.isFinite(t.medianMs())), times.toString());
            Map<String, Tensor> got = c.run(in);
            for (String o : List.of("normed", "mean")) assertClose("engine after profiling %" + o + " (emulated)", got.get(o), ref.get(o), 1e-4);
            // the tuner's timing: copies of the layers in a graph of their own, per copy; the context runs on as before
            double[] perCopy = c.timeCopies(GpuTuner.COPIES, 1, 3);
            assertEquals(3, perCopy.length);
            assertTrue(java.util.Arrays.stream(perCopy).allMatch(x -> x >= 0 && Double.isFinite(x)), java.util.Arrays.toString(perCopy));
            got = c.run(in);
            for (String o : List.of("normed", "mean")) assertClose("engine after timing copies %" + o + " (emulated)", got.get(o), ref.get(o), 1e-4);
        }
    }

    @Test void aLayerThatNeedsCublasIsRefusedNamingTheLibrary() {
        NetworkBuilder b = new NetworkBuilder("gemm");
        Graph g = b.output(b.name("mm").gemm(b.input("x", DType.F32, 4, 32), b.uniformWeights("w", -1, 1, 16, 32), b.uniformWeights("b", -1, 1, 16), true)).build();
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(g, GpuEngine.Precision.FP32, ctx).close());
        assertTrue(e.getMessage().contains("cuBLASLt is not available on the emulated device (emulated sm_90 on the CPU"), e.getMessage());
        assertTrue(e.getMessage().contains("mm"), "names the node: " + e.getMessage());
        assertEquals(ctx.device().totalMemory(), ctx.memoryInfo()[0], "the refused build freed what it allocated");
    }

    @Test void anInt8EngineWithoutAPlanIsRefusedBeforeAnyDeviceWork() {
        Graph g = tesselOnlyGraph();
        long free = ctx.memoryInfo()[0];
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(g, GpuEngine.Precision.INT8, ctx).close());
        assertTrue(e.getMessage().startsWith("cannot build a GPU engine at INT8 without a plan"), e.getMessage());
        assertTrue(e.getMessage().contains("--int8 --calib"), "says how to get one: " + e.getMessage());
        assertEquals(free, ctx.memoryInfo()[0], "nothing was allocated");
    }
}
