package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.kernels.IndexKernels;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * The index ops' layers ({@link IndexLayers}: Range, Trilu, CumSum, CumProd, OneHot, TopK, ScatterElements, ScatterND) in
 * GPU engines on the emulated device (kernel logic and launch arguments, never speed), against the CPU engine: every
 * ONNX node case of those ops the engine takes whole, and {@link DataNodeCases}' index cases (integer and bool data,
 * NaN and ties, duplicate scatter targets, an unfolded Range). FP32 results equal the reference's bit for bit (the
 * kernels compute in double, as the reference does, and round once); FP16 engines run the cases without integer
 * outputs on inputs rounded to f16, within 1e-2 relative. Cases holding f64, f16 or bf16 values are left out: the GPU
 * engine takes f32 graphs (the precision picks the storage).
 */
class IndexEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    static List<DataNodeCases.Case> cases() throws Exception {
        List<DataNodeCases.Case> all = new ArrayList<>(DataNodeCases.load());
        all.addAll(DataNodeCases.synthetic());
        return all.stream().filter(c -> c.graph().nodes().stream().anyMatch(n -> DataNodeCases.INDEX_OPS.contains(n.opName()))).toList();
    }

    @Test void theIndexLayersMatchTheCpuEngine() throws Exception {
        List<String> failures = new ArrayList<>(), skipped = new ArrayList<>();
        java.util.Set<String> opsRun = new java.util.TreeSet<>();
        int runs = 0;
        for (DataNodeCases.Case c : cases()) {
            String skip = null;
            for (Value v : c.graph().inputs())
                if (v.type().dtype() != DType.F32 && !v.type().dtype().isInteger() && v.type().dtype() != DType.BOOL) skip = "input %" + v.name() + " is " + v.type().dtype().text();
            for (Node n : c.graph().nodes())
                for (Value v : n.outputs()) if (v.type().dtype().isFloating() && v.type().dtype() != DType.F32) skip = "%" + v.name() + " is " + v.type().dtype().text();
            try {
                GpuEngine.requireSupported(c.graph());
            } catch (GpuEngineException e) {
                skip = e.getMessage();
            }
            if (skip != null) {
                skipped.add(c.name() + ": " + skip);
                continue;
            }
            Map<String, Tensor> want = Engine.buildCpu(c.graph()).createContext().run(c.inputs());
            boolean ints = c.graph().outputs().stream().anyMatch(v -> !v.type().dtype().isFloating());
            for (GpuEngine.Precision p : ints ? List.of(GpuEngine.Precision.FP32) : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                boolean fp32 = p == GpuEngine.Precision.FP32;
                Map<String, Tensor> in = new LinkedHashMap<>(c.inputs());
                if (!fp32) in.replaceAll((k, t) -> t.dtype() == DType.F32 ? roundF16(t) : t);
                Map<String, Tensor> ref = fp32 ? want : Engine.buildCpu(c.graph()).createContext().run(in);
                try (GpuEngine e = GpuEngine.build(c.graph(), p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                    for (var l : e.layerPlans())
                        if (IndexLayers.idOf(c.graph().nodes().stream().filter(n -> n.name().equals(l.node())).findFirst().orElseThrow()) != null)
                            opsRun.add(l.tactic());
                    Map<String, Tensor> got = x.run(in);
                    for (var r : ref.entrySet()) {
                        Tensor g = got.get(r.getKey());
                        double[] v = new double[g.size()];
                        for (int i = 0; i < v.length; i++) v[i] = g.getDouble(i);
                        String why = DataKernelsHostTest.mismatch(v, r.getValue(), fp32, 1e-2);
                        if (why != null) failures.add(c.name() + " " + p + " %" + r.getKey() + " " + why);
                    }
                    runs++;
                } catch (RuntimeException ex) {
                    failures.add(c.name() + " " + p + ": " + ex);
                }
            }
        }
        System.out.println("IndexEmulatedTest: " + runs + " engine runs, tactics " + opsRun + "; skipped " + skipped);
        assertEquals(List.of(), failures);
        assertEquals(java.util.Set.of(GpuTactics.RANGE, GpuTactics.TRILU, GpuTactics.CUMULATIVE, GpuTactics.ONEHOT, GpuTactics.TOPK,
                GpuTactics.SCATTER_ELEMENTS, GpuTactics.SCATTER_ND), opsRun);
        assertTrue(runs >= 60, runs + " engine runs");
    }

    @Test void buffersTooSmallAreRefusedBeforeALaunch() {
        try (KernelCompiler kc = new KernelCompiler(ctx); DeviceBuffer small = DeviceBuffer.allocate(16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> IndexKernels.topK(kc, DType.F32, small, small, small, new int[] {2, 8}, 1, 3, true, null));
            assertTrue(e.getMessage().contains("topk input buffer holds 16 bytes, needs 16 f32 elements"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> IndexKernels.scatterElementsLaunch(new int[] {2, 2}, 0, "sum"));
            assertTrue(e.getMessage().contains("reduction 'sum'"), e.getMessage());
        }
    }

    private static Tensor roundF16(Tensor t) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(DType.F16, t.getFloat(i));
        return Tensor.ofFloats(DType.F32, t.shape(), v);
    }

}
