package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemm;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The quantized MatMul tactics inside GPU engines on the emulated device (a CPU test: kernel logic and launch
 * arguments, never speed), each engine planned with the tactic under test, against the CPU engine's kernels:
 * tessel.gemv.weight_only and tessel.gemm.weight_only over INT8 and INT4, groups 32/64/128, with and without zero
 * points, 1, 3, 5, 8, 13 (two passes of the GEMV over the weights), 17 and 64 activation rows (the GEMM in both its
 * forms, tiled and, at FP16, mma on the emulated tensor cores); tessel.gemm.w8a8 over
 * 1, 3, 17 and 64 rows and a K that is not a multiple of 4.
 *
 * <p>Bounds: at FP32 both compute what the CPU kernels compute up to f32 summation order (tolerance 1e-5). At FP16 and
 * BF16 the inputs are drawn exactly representable in the storage type (so both sides multiply the same values) and
 * every output must satisfy |gpu - cpu| <= u |cpu| + 1e-5 sum_k |x_k w_k|: u (2^-10 for f16, 2^-7 for bf16) for the
 * output's rounding to the storage type, the second term for the f32 sums' order (W8A8's int sums are exact, so there
 * only the first term applies). The GEMM's dequant form (GPU only: its GEMM is cuBLASLt's) rounds each dequantized
 * weight to the storage type too, which adds u/2 sum_k |x_k w_k|.
 */
class QuantizedMatMulEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** One tessel.WeightOnlyMatMul of A [m, k] (input "a") by a random [k, n] weight quantized as asked. */
    static Graph weightOnly(int m, int k, int n, int bits, int group, boolean zeros, DType scaleType, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.05);
        var q = WeightQuantizer.quantize(w, k, n, new WeightQuantizer.Format(bits, group, !zeros), scaleType);
        Graph g = new Graph("wo_w" + bits + "_g" + group + (zeros ? "_z" : "") + "_m" + m);
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(m, k)));
        List<Value> ins = new ArrayList<>(List.of(a, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())));
        if (zeros) ins.add(g.addConstant("z", q.zeroPoints()));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", ins,
                Attributes.builder().put("bits", (long) bits).put("group_size", (long) group).build(), 1);
        g.setOutputs(List.of(node.output()));
        return g;
    }

    /** One tessel.W8A8MatMul of A [m, k] (input "a"): random i8 codes, per-channel scales, a_scale for |a| <= 1. */
    static Graph w8a8(int m, int k, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] codes = new long[n * k];
        for (int i = 0; i < codes.length; i++) codes[i] = r.nextInt(-127, 128);
        float[] ws = new float[n];
        for (int i = 0; i < n; i++) ws[i] = (float) r.nextDouble(1e-3, 5e-3);
        Graph g = new Graph("w8a8_m" + m + "_k" + k);
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(m, k)));
        List<Value> ins = List.of(a, g.addConstant("w", Tensor.ofLongs(DType.I8, Shape.of(n, k), codes)), g.addConstant("ws", Tensor.ofFloats(DType.F32, Shape.of(n), ws)),
                g.addConstant("sa", Tensor.ofFloats(DType.F32, Shape.of(1), new float[] {1f / 127})));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.W8A8), "proj", ins, Attributes.empty(), 1);
        g.setOutputs(List.of(node.output()));
        return g;
    }

    static Precision costPrecision(GpuEngine.Precision p) { return Precision.valueOf(p.name()); }

    /** The rule's plan of {@code g} at {@code p} with the quantized node's tactic replaced by {@code tactic} (a catalogue id, optionally with a variant after '/'). */
    static PlanApplier.Applied planned(Graph g, GpuEngine.Precision p, String tactic) {
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, costPrecision(p)));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        List<PlannedNode> ns = new ArrayList<>();
        String id = GpuTactics.catalogueId(tactic), variant = id.equals(tactic) ? "" : tactic.substring(id.length() + 1);
        for (PlannedNode pn : a.plan().nodes()) ns.add(pn.op().startsWith("tessel.") && pn.op().endsWith("MatMul") ? pn.withTactic(id, variant) : pn);
        return new PlanApplier.Applied(a.graph(), a.plan().withNodes(ns));
    }

    static Tensor runGpu(CudaContext ctx, Graph g, GpuEngine.Precision p, String tactic, Map<String, Tensor> in) {
        PlanApplier.Applied a = planned(g, p, tactic);
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            // the GEMV's layer names the form it runs as its variant: the planned one, else compared by catalogue id
            assertEquals(List.of(tactic), e.layerPlans().stream().map(l -> tactic.contains("/") ? l.tactic() : GpuTactics.catalogueId(l.tactic())).distinct().toList(), g.name());
            return c.run(in).get(a.graph().outputs().get(0).name());
        }
    }

    static Tensor runCpu(Graph g, Map<String, Tensor> in) {
        return Engine.buildCpu(g).createContext().run(in).get(g.outputs().get(0).name());
    }

    /** Random activations exactly representable in {@code t}. */
    static Map<String, Tensor> input(SplittableRandom r, int m, int k, DType t) {
        float[] v = new float[m * k];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(t, (float) r.nextDouble(-1, 1));
        return Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(m, k), v));
    }

    /** sum_k |x_k w_k| per output, the scale of f32 summation-order differences. */
    static float[] magnitudes(Graph g, Tensor a) {
        Node n = g.nodes().getFirst();
        float[] x = a.floats();
        int k = a.shape().dim(-1), m = x.length / k;
        float[] w;
        if (n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY)) {
            int bits = (int) n.attrs().getInt("bits", 0), group = (int) n.attrs().getInt("group_size", 0), cols = n.input(1).type().shape().dim(0);
            w = WeightQuantizer.dequantize(n.input(1).constantValue(), n.input(2).constantValue(), n.input(3) == null ? null : n.input(3).constantValue(), bits, group, cols, k);
        } else {
            w = new float[0]; // int sums are exact
        }
        int cols = n.output().type().shape().dim(-1);
        float[] mag = new float[m * cols];
        for (int i = 0; i < m && w.length > 0; i++)
            for (int j = 0; j < cols; j++) {
                double s = 0;
                for (int c = 0; c < k; c++) s += Math.abs(x[i * k + c] * w[j * k + c]);
                mag[i * cols + j] = (float) s;
            }
        return mag;
    }

    static void check(String what, Graph g, GpuEngine.Precision p, String tactic, Map<String, Tensor> in) { check(ctx, what + " (emulated)", g, p, tactic, in); }

    static void check(CudaContext ctx, String what, Graph g, GpuEngine.Precision p, String tactic, Map<String, Tensor> in) {
        Tensor want = runCpu(g, in), got = runGpu(ctx, g, p, tactic, in);
        assertEquals(want.shape(), got.shape(), what);
        if (p == GpuEngine.Precision.FP32) {
            GpuTestSupport.assertClose(what, got, want, 1e-5);
            return;
        }
        double u = p == GpuEngine.Precision.FP16 ? 0x1p-10 : 0x1p-7;
        // the dequant form rounds each dequantized weight to the storage type before cuBLASLt multiplies it
        double weights = tactic.endsWith("/" + org.tessel.tactics.gemm.QuantizedMatMulTactic.GEMM_DEQUANT) ? u / 2 : 0;
        float[] mag = magnitudes(g, in.get("a"));
        double worst = 0;
        for (int i = 0; i < want.size(); i++) {
            double err = Math.abs(got.getFloat(i) - want.getFloat(i)), bound = u * Math.abs(want.getFloat(i)) + (1e-5 + weights) * mag[i] + 1e-30;
            worst = Math.max(worst, err / bound);
            assertTrue(err <= bound, what + " " + p + " element " + i + ": " + got.getFloat(i) + " vs " + want.getFloat(i) + " (bound " + bound + ")");
        }
        System.out.printf("RESULT|%s %s|worst error / bound %.3f%n", what, p, worst);
    }

    @Test void weightOnlyTacticsMatchTheCpuKernelsOverBitsGroupsZeroPointsAndRows() {
        int k = 256, n = 75; // n not a multiple of the GEMV block's 8 rows nor of the GEMM's 64-column tile
        int checked = 0;
        for (int bits : new int[] {8, 4})
            for (int group : new int[] {32, 64, 128})
                for (boolean zeros : new boolean[] {false, true})
                    for (int m : new int[] {1, 3, 5, 8, 13, 17, 64}) {
                        Graph g = weightOnly(m, k, n, bits, group, zeros, DType.F16, bits * 1000L + group * 10L + m + (zeros ? 7 : 0));
                        SplittableRandom r = new SplittableRandom(m * 31L + group);
                        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                            Map<String, Tensor> in = input(r, m, k, p.storage());
                            List<String> tactics = new ArrayList<>(m <= 16 ? List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY) : List.of(GpuTactics.GEMM_WEIGHT_ONLY));
                            if (p == GpuEngine.Precision.FP16) tactics.add(GpuTactics.variant(GpuTactics.GEMM_WEIGHT_ONLY, "mma")); // tensor cores: f16 only
                            for (String tactic : tactics) {
                                check(tactic + " " + g.name(), g, p, tactic, in);
                                checked++;
                            }
                        }
                    }
        assertEquals(2 * 3 * 2 * ((5 * 2 + 2) * 2 + 7), checked);
    }

    @Test void bf16ActivationsAndF32ScalesMatchToo() {
        SplittableRandom r = new SplittableRandom(5);
        for (int bits : new int[] {8, 4}) {
            Graph g = weightOnly(3, 128, 40, bits, 64, bits == 4, DType.F32, 11 + bits);
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.BF16, GpuEngine.Precision.FP32)) {
                Map<String, Tensor> in = input(r, 3, 128, p.storage());
                for (String tactic : List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY)) check(tactic + " f32 scales " + g.name(), g, p, tactic, in);
            }
        }
    }

    /** K not a multiple of 8: the GEMM takes it, the GEMV is refused naming its 16-byte loads, and the rule plans the GEMM. */
    @Test void aKTheGemvsLoadsDoNotFitRunsOnTheGemmAndTheGemvIsRefusedClearly() {
        SplittableRandom r = new SplittableRandom(8);
        int[][] cases = {{8, 44, 4}, {4, 36, 12}}; // bits, K, group
        for (int[] c : cases) {
            Graph g = weightOnly(1, c[1], 21, c[0], c[2], false, DType.F16, c[1]);
            Map<String, Tensor> in = input(r, 1, c[1], DType.F32);
            SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32));
            SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
            EnginePlan byRule = EnginePlans.complete(problem, Searcher.run(problem, "rule", o)).plan();
            assertTrue(byRule.nodes().stream().anyMatch(pn -> pn.tacticId().equals(GpuTactics.GEMM_WEIGHT_ONLY)), "the rule plans the GEMM: " + byRule.nodes());
            check("K=" + c[1] + " w" + c[0], g, GpuEngine.Precision.FP32, GpuTactics.GEMM_WEIGHT_ONLY, in);
            PlanApplier.Applied gemv = planned(g, GpuEngine.Precision.FP32, GpuTactics.GEMV_WEIGHT_ONLY);
            GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(gemv.graph(), gemv.plan(), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1).close());
            int codes = c[0] == 4 ? 32 : 16;
            assertTrue(e.getMessage().contains("'proj'") && e.getMessage().contains(GpuTactics.GEMV_WEIGHT_ONLY)
                    && e.getMessage().contains("K=" + c[1] + " is not a multiple of " + codes), e.getMessage());
        }
        Graph tall = weightOnly(17, 64, 16, 8, 32, false, DType.F16, 3);
        PlanApplier.Applied gemv = planned(tall, GpuEngine.Precision.FP32, GpuTactics.GEMV_WEIGHT_ONLY);
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> GpuEngine.build(gemv.graph(), gemv.plan(), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1).close());
        assertTrue(e.getMessage().contains("at most 16 activation rows (A has 17)"), e.getMessage());
    }

    /** Without a plan the builder's rule takes the GEMV for a decode step and the GEMM beyond 16 rows, in its tiled form (the search prices the forms). */
    @Test void theBuildersRulePicksTheGemvForDecodeAndTheGemmForPrefill() {
        for (int m : new int[] {1, 17}) {
            Graph g = weightOnly(m, 128, 24, 4, 32, false, DType.F16, m);
            try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx)) {
                assertEquals(List.of(m == 1 ? GpuTactics.variant(GpuTactics.GEMV_WEIGHT_ONLY, "staged") : GpuTactics.variant(GpuTactics.GEMM_WEIGHT_ONLY, "tiled")), e.layerPlans().stream().map(l -> l.tactic()).toList());
            }
        }
    }

    @Test void w8a8MatchesTheCpuKernelExactlyAtFp32AndWithinOutputRoundingAtFp16() {
        for (int k : new int[] {64, 70})
            for (int m : new int[] {1, 3, 17, 64}) {
                Graph g = w8a8(m, k, 75, k * 100L + m);
                SplittableRandom r = new SplittableRandom(k + m);
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                    Map<String, Tensor> in = input(r, m, k, p.storage());
                    if (p == GpuEngine.Precision.FP32) {
                        Tensor want = runCpu(g, in), got = runGpu(ctx, g, p, GpuTactics.GEMM_W8A8, in);
                        for (int i = 0; i < want.size(); i++) assertEquals(want.getFloat(i), got.getFloat(i), 0f, g.name() + " FP32 element " + i + " (exact int sums, one scale)");
                    } else {
                        check(GpuTactics.GEMM_W8A8 + " " + g.name(), g, p, GpuTactics.GEMM_W8A8, in);
                    }
                }
            }
    }

    /**
     * The tensor-core GEMM's kernel in K slices of 32 and of 64 (the latter where K and the group size are multiples of
     * 64) computes the CPU kernel's outputs within the FP16 bound, 4 and 8 bits, zero points or not, a row count and a
     * column count that are not multiples of its 64x64 tile; a slice the group does not hold is refused naming both.
     */
    @Test void theTensorCoreGemmsKernelMatchesInBothSlices() {
        int k = 256, n = 75, m = 70;
        try (KernelCompiler kc = new KernelCompiler(ctx);
             CudaStream st = CudaStream.create()) {
            for (int bits : new int[] {4, 8})
                for (boolean zeros : new boolean[] {false, true}) {
                    Graph g = weightOnly(m, k, n, bits, 64, zeros, DType.F16, bits * 10L + (zeros ? 1 : 0));
                    Map<String, Tensor> in = input(new SplittableRandom(bits), m, k, DType.F16);
                    Tensor want = runCpu(g, in);
                    Node node = g.nodes().getFirst();
                    float[] mag = magnitudes(g, in.get("a"));
                    for (int slice : new int[] {32, 64})
                        try (DeviceBuffer x = HostTensors.upload(in.get("a"), DType.F16);
                             DeviceBuffer c = HostTensors.uploadBytes(node.input(1).constantValue());
                             DeviceBuffer sc = HostTensors.upload(node.input(2).constantValue(), DType.F16);
                             DeviceBuffer z = zeros ? HostTensors.uploadBytes(node.input(3).constantValue()) : null;
                             DeviceBuffer y = DeviceBuffer.allocate(2L * m * n)) {
                            WeightOnlyGemm.run(kc, DType.F16, DType.F16, bits, 64, m, n, k, x, c, sc, z, y, st,
                                    WeightOnlyGemm.Form.MMA, slice);
                            st.synchronize();
                            Tensor got = HostTensors.download(y, DType.F16, org.tessel.api.Shape.of(m, n));
                            for (int i = 0; i < want.size(); i++) {
                                double err = Math.abs(got.getFloat(i) - want.getFloat(i)), bound = 0x1p-10 * Math.abs(want.getFloat(i)) + 1e-5 * mag[i] + 1e-30;
                                assertTrue(err <= bound, g.name() + " slice " + slice + " element " + i + ": " + got.getFloat(i) + " vs " + want.getFloat(i));
                            }
                        }
                }
            try (DeviceBuffer b = DeviceBuffer.allocate(1 << 16)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemm.run(kc, DType.F16, DType.F16, 4, 32, 2, 8, 64,
                        b, b, b, null, b, st, WeightOnlyGemm.Form.MMA, 64));
                assertEquals("weight-only GEMM: K slices of 64 lie in one group: K=64 and group size 32 must be multiples of 64", e.getMessage());
            }
        }
    }

    /**
     * The dequant form's first kernel writes exactly WeightQuantizer's dequantized weight ((code - zero) * scale in f32)
     * rounded to the storage type, [N, K] row-major: 4 and 8 bits, zero points or not, f16, bf16 and f32; its GEMM is
     * cuBLASLt's (QuantizedMatMulGpuTest runs the whole form on a GPU).
     */
    @Test void theDequantKernelWritesTheDequantizedWeightRoundedToTheStorageType() {
        int k = 96, n = 21, group = 32;
        try (KernelCompiler kc = new KernelCompiler(ctx);
             CudaStream st = CudaStream.create()) {
            for (int bits : new int[] {4, 8})
                for (boolean zeros : new boolean[] {false, true})
                    for (DType t : List.of(DType.F16, DType.BF16, DType.F32)) {
                        Graph g = weightOnly(1, k, n, bits, group, zeros, DType.F16, bits + (zeros ? 5 : 0));
                        Node node = g.nodes().getFirst();
                        Tensor codes = node.input(1).constantValue(), scales = node.input(2).constantValue(), zp = zeros ? node.input(3).constantValue() : null;
                        float[] want = WeightQuantizer.dequantize(codes, scales, zp, bits, group, n, k);
                        try (DeviceBuffer c = HostTensors.uploadBytes(codes);
                             DeviceBuffer sc = HostTensors.upload(scales, DType.F16);
                             DeviceBuffer z = zeros ? HostTensors.uploadBytes(zp) : null;
                             DeviceBuffer out = DeviceBuffer.allocate((long) n * k * t.bytes())) {
                            WeightOnlyGemm.dequantize(kc, t, DType.F16, bits, group, n, k, c, sc, z, out, st);
                            st.synchronize();
                            Tensor got = HostTensors.download(out, t, org.tessel.api.Shape.of(n, k));
                            for (int i = 0; i < want.length; i++)
                                assertEquals(Tensor.round(t, want[i]), got.getFloat(i), 0f, "w" + bits + (zeros ? " zero points " : " ") + t.text() + " element " + i);
                        }
                    }
            try (DeviceBuffer b = DeviceBuffer.allocate(1 << 12)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> WeightOnlyGemm.dequantize(kc, DType.F16, DType.F16, 4, 4, 2, 36, b, b, null, b, st));
                assertEquals("weight-only dequantize: its threads dequantize 8 codes of one group: K=36 and group size 4 must be multiples of 8", e.getMessage());
            }
        }
    }
}
