package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;

/**
 * The layers of {@link WindowLayers}, {@code tessel.reduce} and {@link AxisLayers} on the GPU against the reference
 * interpreter, on every ONNX node case of their ops ({@link DataNodeCases}): an FP32 engine per case (eager and
 * CUDA-graph replay), data movement, fills, build-time values, ArgMax/ArgMin, Hardmax, ReduceMax/Min exact,
 * reductions and LogSoftmax within 1e-4 relative; an FP16 engine for the cases without an index op within 1e-2, on
 * inputs rounded to f16 (the reference too), unless the reference's result leaves f16's range. Cases the engine cannot
 * take as a whole (a floating input or value that is not f32, another op without a GPU kernel) are listed and
 * skipped; the node-level support is {@link DataTacticsNodeCasesTest}'s. Runs on a GPU, or on the emulated device
 * ({@code -Dgroups=gpu -Dtessel.excludedGroups=none -Dtessel.test.device=emulated}).
 */
@Tag("gpu")
class DataLayersGpuTest {
    private static boolean exact(Node n) {
        return !n.opName().startsWith("Reduce") && !n.opName().equals("LogSoftmax") || n.opName().equals("ReduceMax") || n.opName().equals("ReduceMin");
    }

    @Test void layersMatchTheReferenceOnTheNodeCases() throws Exception {
        List<DataNodeCases.Case> cases = new ArrayList<>(DataNodeCases.load());
        assumeFalse(cases.isEmpty(), "ONNX node cases not found at " + DataNodeCases.folder() + "; skipping");
        cases.addAll(DataNodeCases.synthetic());
        CudaContext ctx = GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        int built = 0;
        for (DataNodeCases.Case c : cases) {
            String skip = null;
            for (Value v : c.graph().inputs())
                if (v.type().dtype() != DType.F32 && !v.type().dtype().isInteger() && v.type().dtype() != DType.BOOL) skip = "input %" + v.name() + " is " + v.type().dtype().text();
            for (Node n : c.graph().nodes())
                for (Value v : n.outputs())
                    if (v.type().dtype().isFloating() && v.type().dtype() != DType.F32) // an f16 Range, a bf16 OneHot: the engine takes f32 graphs
                        skip = "%" + v.name() + " is " + v.type().dtype().text() + "; the GPU engine takes f32 graphs (the precision picks the storage)";
            try {
                GpuEngine.requireSupported(c.graph());
            } catch (GpuEngineException e) {
                skip = e.getMessage();
            }
            if (skip != null) {
                System.out.println("SKIP|" + c.name() + "|" + skip);
                continue;
            }
            built++;
            Map<String, Tensor> ref = GpuTestSupport.reference(c.graph(), c.inputs());
            boolean index = c.nodes().stream().anyMatch(n -> n.opName().startsWith("Arg") || n.opName().equals("Hardmax"));
            boolean allExact = c.graph().nodes().stream().allMatch(DataLayersGpuTest::exact);
            // FP16: the inputs rounded to f16 for the engine and the reference alike (f16 cannot hold the f32 inputs of the
            // large-number cases), skipped where the reference's result leaves f16's range (a product of 12 integers)
            Map<String, Tensor> halfIn = new java.util.LinkedHashMap<>();
            for (var in : c.inputs().entrySet()) halfIn.put(in.getKey(), in.getValue().dtype() == DType.F32 ? roundF16(in.getValue()) : in.getValue());
            Map<String, Tensor> halfRef = GpuTestSupport.reference(c.graph(), halfIn);
            boolean fitsF16 = halfRef.values().stream().allMatch(t -> !t.dtype().isFloating() || java.util.stream.IntStream.range(0, t.size())
                    .allMatch(i -> !Double.isFinite(t.getDouble(i)) || Math.abs(t.getDouble(i)) <= 65504));
            if (!index && !fitsF16) System.out.println("SKIP|" + c.name() + " FP16|the reference's result leaves f16's range");
            for (GpuEngine.Precision p : index || !fitsF16 ? List.of(GpuEngine.Precision.FP32) : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                String what = c.name() + " " + p;
                boolean fp32 = p == GpuEngine.Precision.FP32;
                Map<String, Tensor> in = fp32 ? c.inputs() : halfIn, want = fp32 ? ref : halfRef;
                checks.check(what, () -> {
                    try (GpuEngine e = GpuEngine.build(c.graph(), p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                        compare(what + " eager", x.run(in), want, fp32 && allExact, fp32 ? 1e-4 : 1e-2);
                        x.captureGraph();
                        compare(what + " graph", x.run(in), want, fp32 && allExact, fp32 ? 1e-4 : 1e-2);
                    }
                });
            }
        }
        System.out.println("DataLayersGpuTest: " + built + " of " + cases.size() + " cases built");
        checks.done();
    }

    private static Tensor roundF16(Tensor t) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(DType.F16, t.getFloat(i));
        return Tensor.ofFloats(DType.F32, t.shape(), v);
    }

    private static void compare(String what, Map<String, Tensor> got, Map<String, Tensor> ref, boolean exact, double tol) {
        for (var r : ref.entrySet()) {
            Tensor g = got.get(r.getKey());
            double[] v = new double[g.size()];
            for (int i = 0; i < v.length; i++) v[i] = g.getDouble(i);
            String why = DataKernelsHostTest.mismatch(v, r.getValue(), exact, tol);
            System.out.println("RESULT|" + what + "|" + r.getKey() + "|" + (why == null ? "ok" : "FAIL " + why));
            if (why != null) throw new AssertionError(what + " output %" + r.getKey() + " " + why);
        }
    }
}
