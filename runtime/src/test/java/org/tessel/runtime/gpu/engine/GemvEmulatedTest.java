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
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.plan.PlanApplier;
import org.tessel.tactics.plan.PlannedNode;

/**
 * {@code tessel.gemv} inside GPU engines on the emulated device (kernel logic and launch arguments, never speed): a
 * MatMul by constant [K, N] weights at 1, 3 and 8 activation rows (A of rank 2 and 3), N not a multiple of the block's
 * 8 columns, K not a multiple of the lanes' 32 x 4 chunks, at FP32, FP16 and BF16, against the CPU engine. Inputs
 * are drawn exactly representable in the storage type, so both sides multiply the same values: FP32 agrees to f32
 * summation order (1e-5), FP16/BF16 within the output's rounding u|y| plus 1e-5 sum_k |x_k w_k|, where the weights'
 * rounding to the storage type is the CPU's too (they are drawn representable as well).
 */
class GemvEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    static Graph matmul(int[] aShape, int k, int n, DType t, long seed) { return matmul(aShape, k, n, t, seed, false, false); }

    /** A MatMul of input "a" by random constant [k, n] weights, then a constant bias [n] Add and an Add of input "r" (A's rows x n) when asked. */
    static Graph matmul(int[] aShape, int k, int n, DType t, long seed, boolean bias, boolean residual) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = Tensor.round(t, (float) (r.nextGaussian() * 0.1));
        Graph g = new Graph("gemv_" + java.util.Arrays.toString(aShape).replaceAll("[^0-9]+", "x") + "k" + k + "n" + n);
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(aShape)));
        Node node = g.addNode(OpRegistry.global().get("MatMul"), "proj", List.of(a, g.addConstant("w", Tensor.ofFloats(DType.F32, Shape.of(k, n), w))), Attributes.empty(), 1);
        Value out = node.output();
        if (bias) {
            float[] b = new float[n];
            for (int i = 0; i < n; i++) b[i] = Tensor.round(t, (float) r.nextGaussian());
            out = g.addNode(OpRegistry.global().get("Add"), "bias", List.of(out, g.addConstant("b", Tensor.ofFloats(DType.F32, Shape.of(n), b))), Attributes.empty(), 1).output();
        }
        if (residual) {
            int[] rs = aShape.clone();
            rs[rs.length - 1] = n;
            out = g.addNode(OpRegistry.global().get("Add"), "residual", List.of(g.addInput("r", TensorType.of(DType.F32, Shape.of(rs))), out), Attributes.empty(), 1).output();
        }
        g.setOutputs(List.of(out));
        return g;
    }

    /** The rule's plan at {@code p}, the MatMul's tactic replaced by {@code tactic}. */
    static PlanApplier.Applied planned(Graph g, GpuEngine.Precision p, String tactic) {
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.valueOf(p.name())));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode pn : a.plan().nodes()) ns.add(pn.op().equals("MatMul") || pn.op().equals("tessel.Fused") ? pn.withTactic(tactic, "") : pn);
        return new PlanApplier.Applied(a.graph(), a.plan().withNodes(ns));
    }

    static void check(Graph g, GpuEngine.Precision p, Map<String, Tensor> in) { check(ctx, g, p, in); }

    static void check(CudaContext ctx, Graph g, GpuEngine.Precision p, Map<String, Tensor> in) {
        Tensor want = Engine.buildCpu(g).createContext().run(in).get(g.outputs().get(0).name());
        PlanApplier.Applied a = planned(g, p, GpuTactics.GEMV);
        Tensor got;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            assertEquals(List.of(GpuTactics.GEMV), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList(), g.name());
            got = c.run(in).get(a.graph().outputs().get(0).name());
        }
        assertEquals(want.shape(), got.shape(), g.name());
        Node mm = g.nodes().getFirst();
        float[] x = in.get("a").floats(), w = mm.input(1).constantValue().floats();
        int k = mm.input(1).type().shape().dim(0), n = mm.input(1).type().shape().dim(1);
        double u = switch (p) {
            case FP32 -> 0;
            case FP16 -> 0x1p-10;
            default -> 0x1p-7;
        };
        for (int i = 0; i < want.size(); i++) {
            int row = i / n, col = i % n;
            double mag = 0;
            for (int j = 0; j < k; j++) mag += Math.abs(x[row * k + j] * w[j * n + col]);
            double err = Math.abs(got.getFloat(i) - want.getFloat(i)), bound = u * Math.abs(want.getFloat(i)) + 1e-5 * mag + 1e-30;
            assertTrue(err <= bound, g.name() + " " + p + " element " + i + ": " + got.getFloat(i) + " vs " + want.getFloat(i) + " (bound " + bound + ")");
        }
    }

    @Test void theGemvMatchesTheCpuEngineOverRowsShapesAndPrecisions() {
        int checked = 0;
        for (int[] aShape : new int[][] {{1, 296}, {3, 296}, {8, 296}, {2, 1, 296}, {1, 1, 1024}})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                int k = aShape[aShape.length - 1];
                Graph g = matmul(aShape, k, 75, p.storage(), k + aShape[0] * 7L + p.ordinal());
                SplittableRandom r = new SplittableRandom(aShape.length * 13L + aShape[0]);
                int rows = 1;
                for (int i = 0; i < aShape.length - 1; i++) rows *= aShape[i];
                float[] v = new float[rows * k];
                for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                check(g, p, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(aShape), v)));
                checked++;
            }
        assertEquals(15, checked);
    }

    /**
     * Each K split (1, 2 and 4 warps a row group, chosen from N, K and the emulated device's 132 SMs) against the CPU engine:
     * N=75 at K of 32, 64 and 129 f16 chunks (129: the first warp of a group has one slice more than the others), FP32 at
     * 129 chunks, 1 and 3 activation rows; with a bias and residual, the SiLU * up prologue and the RMS norm at split 4.
     */
    @Test void everyKSplitMatchesTheCpuEngine() {
        int sms = ctx.device().smCount();
        int[][] cases = {{256, 1}, {512, 2}, {1032, 4}};
        for (int[] c : cases)
            for (int rows : new int[] {1, 3}) {
                GpuEngine.Precision p = GpuEngine.Precision.FP16;
                int k = c[0];
                assertEquals(c[1], org.tessel.runtime.gpu.kernels.Gemv.kSplit(75, k, p.storage(), sms), "K=" + k);
                Graph g = matmul(new int[] {rows, k}, k, 75, p.storage(), k + rows, rows == 3, false);
                SplittableRandom r = new SplittableRandom(k * 3L + rows);
                float[] v = new float[rows * k];
                for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                check(g, p, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(rows, k), v)));
            }
        assertEquals(4, org.tessel.runtime.gpu.kernels.Gemv.kSplit(75, 516, DType.F32, sms));
        float[] v = new float[2 * 516];
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextDouble(-1, 1);
        check(matmul(new int[] {2, 516}, 516, 75, DType.F32, 12), GpuEngine.Precision.FP32, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(2, 516), v)));
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
            checkPrologue(ctx, siluDown(3, 1032, 75, p.storage(), 41 + p.ordinal()), p, siluDownInputs(3, 1032, 75, p.storage(), 43));
            checkFused(ctx, normProj(3, 1032, new int[] {75}, p.storage(), 47 + p.ordinal(), true), p, normProjInputs(3, 1032, 75, p.storage(), 53), "rmsnorm_gemm",
                    List.of(GpuTactics.GEMV));
        }
    }

    /**
     * A classifier's head: a plain Gemm of A [M, K] by constant B, transB = 1 ([N, K], read as stored) and 0 ([K, N],
     * repacked), with and without the bias C, at 1 and 2 rows, FP32 and FP16, against the CPU engine (within
     * {@link #check}'s bound); a Gemm the GEMV cannot run (transA, alpha) is refused naming why.
     */
    @Test void aPlainGemmRunsAsTheGemv() {
        for (boolean transB : new boolean[] {true, false})
            for (boolean withC : new boolean[] {true, false})
                for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16))
                    checkGemm(ctx, transB ? 1 : 2, 208, 37, transB, withC, p);
        Graph g = new Graph("fc_transA");
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(64, 1)));
        Node fc = g.addNode(OpRegistry.global().get("Gemm"), "fc", List.of(a, g.addConstant("w", Tensor.zeros(DType.F32, Shape.of(64, 8)))), Attributes.builder().put("transA", 1L).build(), 1);
        assertTrue(org.tessel.tactics.gemm.GemmTactics.GEMV.whyNot(fc, Precision.FP16, org.tessel.api.Layout.ANY).contains("transA=1"));
        Node scaled = g.addNode(OpRegistry.global().get("Gemm"), "fc2", List.of(fc.output(), g.addConstant("w2", Tensor.zeros(DType.F32, Shape.of(8, 8)))), Attributes.builder().put("alpha", 2f).build(), 1);
        assertTrue(org.tessel.tactics.gemm.GemmTactics.GEMV.whyNot(scaled, Precision.FP16, org.tessel.api.Layout.ANY).contains("alpha=2.0"));
    }

    /** A Gemm fc of A [rows, k] by constant B (transB: [n, k], else [k, n]) and, {@code withC}, a bias C [n], on the GEMV against the CPU engine. */
    static void checkGemm(CudaContext ctx, int rows, int k, int n, boolean transB, boolean withC, GpuEngine.Precision p) {
        SplittableRandom r = new SplittableRandom(k + n + p.ordinal() + (transB ? 1 : 0));
        float[] w = new float[k * n], c = new float[n], v = new float[rows * k];
        for (int i = 0; i < w.length; i++) w[i] = Tensor.round(p.storage(), (float) (r.nextGaussian() * 0.1));
        for (int i = 0; i < c.length; i++) c[i] = Tensor.round(p.storage(), (float) r.nextGaussian());
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
        Graph g = new Graph("fc_" + rows + "x" + k + "x" + n + (transB ? "_nk" : "_kn") + (withC ? "_c" : "") + "_" + p);
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(rows, k)));
        List<Value> ins = new ArrayList<>(List.of(a, g.addConstant("w", Tensor.ofFloats(DType.F32, transB ? Shape.of(n, k) : Shape.of(k, n), w))));
        if (withC) ins.add(g.addConstant("c", Tensor.ofFloats(DType.F32, Shape.of(n), c)));
        Node fc = g.addNode(OpRegistry.global().get("Gemm"), "fc", ins, Attributes.builder().put("transB", transB ? 1L : 0L).build(), 1);
        g.setOutputs(List.of(fc.output()));
        Map<String, Tensor> in = Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(rows, k), v));
        Tensor want = Engine.buildCpu(g).createContext().run(in).get(fc.output().name());
        PlanApplier.Applied pa = planned(g, p, GpuTactics.GEMV);
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode pn : pa.plan().nodes()) ns.add(pn.op().equals("Gemm") ? pn.withTactic(GpuTactics.GEMV, "") : pn);
        pa = new PlanApplier.Applied(pa.graph(), pa.plan().withNodes(ns));
        try (GpuEngine e = GpuEngine.build(pa.graph(), pa.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext x = e.createExecutionContext()) {
            assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals(GpuTactics.GEMV)), g.name() + ": " + e.layerPlans());
            Tensor got = x.run(in).get(pa.graph().outputs().get(0).name());
            double u = p == GpuEngine.Precision.FP32 ? 0 : 0x1p-10;
            for (int i = 0; i < want.size(); i++) {
                int row = i / n, col = i % n;
                double mag = withC ? Math.abs(c[col]) : 0;
                for (int j = 0; j < k; j++) mag += Math.abs(v[row * k + j] * w[transB ? col * k + j : j * n + col]);
                double err = Math.abs(got.getFloat(i) - want.getFloat(i)), bound = u * Math.abs(want.getFloat(i)) + 1e-5 * mag + 1e-30;
                assertTrue(err <= bound, g.name() + " element " + i + ": " + got.getFloat(i) + " vs " + want.getFloat(i) + " (bound " + bound + ")");
            }
        }
    }

    /** o_proj and down_proj with the residual stream: the fused gemm_bias_act of the MatMul, a bias and a residual Add. */
    @Test void aFusedBiasAndResidualAreAddedInTheEpilogue() {
        for (boolean bias : new boolean[] {true, false})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
                int[] aShape = {3, 1, 128};
                Graph g = matmul(aShape, 128, 40, p.storage(), 9, bias, true);
                SplittableRandom r = new SplittableRandom(4);
                float[] v = new float[3 * 128], res = new float[3 * 40];
                for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                for (int i = 0; i < res.length; i++) res[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                check(g, p, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(aShape), v), "r", Tensor.ofFloats(DType.F32, Shape.of(3, 1, 40), res)));
            }
    }

    /**
     * A decode step's merged projection: one row through the GEMV, then a Split of unequal parts of the last axis as views
     * (the parts lie one after another in a single row), each part read by its own op; against the CPU engine. With
     * three rows the parts interleave, and the view is refused naming the dim.
     */
    @Test void aSingleRowSplitOfTheGemvsOutputIsViewsOfItsParts() {
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16)) {
            Graph g = matmul(new int[] {1, 1, 64}, 64, 48 + 16 + 16, p.storage(), 21);
            Value wide = g.outputs().getFirst();
            Node split = g.addNode(OpRegistry.global().get("Split"), "qkv_split",
                    List.of(wide, g.addConstant("sizes", Tensor.ofLongs(DType.I64, Shape.of(3), new long[] {48, 16, 16}))), Attributes.builder().put("axis", -1L).build(), 3);
            List<Value> outs = new ArrayList<>();
            for (int i = 0; i < 3; i++) outs.add(g.addNode(OpRegistry.global().get(i == 1 ? "Neg" : "Relu"), "use" + i, List.of(split.output(i)), Attributes.empty(), 1).output());
            g.setOutputs(outs);
            SplittableRandom r = new SplittableRandom(3);
            float[] v = new float[64];
            for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
            Map<String, Tensor> in = Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(1, 1, 64), v));
            Map<String, Tensor> want = Engine.buildCpu(g).createContext().run(in);
            PlanApplier.Applied a = planned(g, p, GpuTactics.GEMV);
            List<PlannedNode> ns = new ArrayList<>();
            for (PlannedNode pn : a.plan().nodes()) ns.add(pn.op().equals("Split") ? pn.withTactic(GpuTactics.SPLIT_VIEW, "") : pn);
            a = new PlanApplier.Applied(a.graph(), a.plan().withNodes(ns));
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
                assertTrue(e.layerPlans().stream().anyMatch(l -> l.tactic().equals(GpuTactics.SPLIT_VIEW)), "the split aliases its parts: " + e.layerPlans());
                Map<String, Tensor> got = c.run(in);
                for (Value o : g.outputs())
                    org.tessel.runtime.gpu.GpuTestSupport.assertClose(o.name() + " " + p, got.get(o.name()), want.get(o.name()), p == GpuEngine.Precision.FP32 ? 1e-5 : 2e-3);
            }
        }
        Graph three = matmul(new int[] {3, 64}, 64, 32, DType.F32, 5);
        Node split = three.addNode(OpRegistry.global().get("Split"), "s", List.of(three.outputs().getFirst()), Attributes.builder().put("axis", 1L).put("num_outputs", 2L).build(), 2);
        String why = org.tessel.tactics.data.DataMovementTactics.SPLIT_VIEW.whyNot(split, Precision.FP32, Layout.ANY);
        assertTrue(why != null && why.contains("dim 0 of [3,32] before axis 1 is not 1"), why);
    }

    @Test void rowsPastEightAndAKTheLoadsDoNotFitAreRefusedNamingTheLimit() {
        Graph nine = matmul(new int[] {9, 64}, 64, 16, DType.F32, 1);
        String why = GemmTactics.GEMV.whyNot(nine.nodes().getFirst(), Precision.FP16, Layout.ANY);
        assertTrue(why != null && why.contains("1 to 8 activation rows") && why.contains("has 9"), why);
        Graph oddK = matmul(new int[] {1, 36}, 36, 16, DType.F32, 2);
        why = GemmTactics.GEMV.whyNot(oddK.nodes().getFirst(), Precision.FP16, Layout.ANY);
        assertTrue(why != null && why.contains("K=36 is not a multiple of 8"), why);
        assertEquals(null, GemmTactics.GEMV.whyNot(oddK.nodes().getFirst(), Precision.FP32, Layout.ANY), "FP32 chunks hold 4 elements");
        GpuEngineException e = assertThrows(GpuEngineException.class, () -> {
            PlanApplier.Applied a = planned(nine, GpuEngine.Precision.FP16, GpuTactics.GEMV);
            GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP16, ctx, GpuEngine.Options.FIXED, 1).close();
        });
        assertTrue(e.getMessage().contains("proj") && e.getMessage().contains("tessel.gemv"), e.getMessage());
    }

    /**
     * A decoder's MLP tail at {@code rows} activation rows: inputs "gate" and "up" ([rows, 1, k]), SiLU(gate) * up (Sigmoid
     * and two Muls), down_proj by random constant [k, n] weights, then the residual Add of input "r" ([rows, 1, n]).
     */
    static Graph siluDown(int rows, int k, int n, DType t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = Tensor.round(t, (float) (r.nextGaussian() * 0.1));
        var reg = OpRegistry.global();
        Graph g = new Graph("silu_down_m" + rows + "k" + k + "n" + n);
        Value gate = g.addInput("gate", TensorType.of(DType.F32, Shape.of(rows, 1, k))), up = g.addInput("up", TensorType.of(DType.F32, Shape.of(rows, 1, k)));
        Value sig = g.addNode(reg.get("Sigmoid"), "act_fn.sigmoid", List.of(gate), Attributes.empty(), 1).output();
        Value act = g.addNode(reg.get("Mul"), "act_fn", List.of(gate, sig), Attributes.empty(), 1).output();
        Value prod = g.addNode(reg.get("Mul"), "gate_up", List.of(act, up), Attributes.empty(), 1).output();
        Value down = g.addNode(reg.get("MatMul"), "down_proj", List.of(prod, g.addConstant("w", Tensor.ofFloats(DType.F32, Shape.of(k, n), w))), Attributes.empty(), 1).output();
        Value out = g.addNode(reg.get("Add"), "mlp_residual", List.of(g.addInput("r", TensorType.of(DType.F32, Shape.of(rows, 1, n))), down), Attributes.empty(), 1).output();
        g.setOutputs(List.of(out));
        return g;
    }

    static Map<String, Tensor> siluDownInputs(int rows, int k, int n, DType t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> in = new java.util.HashMap<>();
        for (String name : List.of("gate", "up", "r")) {
            int cols = name.equals("r") ? n : k;
            float[] v = new float[rows * cols];
            for (int i = 0; i < v.length; i++) v[i] = Tensor.round(t, (float) r.nextDouble(-2, 2));
            in.put(name, Tensor.ofFloats(DType.F32, Shape.of(rows, 1, cols), v));
        }
        return in;
    }

    /**
     * The joint search's plan for {@code g} at {@code p} (GPU target) must fuse one eltwise_gemm group on tessel.gemv, one
     * kernel for the whole graph; the GPU engine of that plan on {@code ctx} gives the CPU engine's results for the same plan
     * (relative L2 within 1e-5 at FP32, 2e-3 at FP16, 4e-3 at BF16: the CPU rounds after each op of the prologue, the GPU
     * once, so outputs differ by an ulp here and there, and a bf16 ulp is 2^-8 relative).
     */
    static void checkPrologue(CudaContext ctx, Graph g, GpuEngine.Precision p, Map<String, Tensor> in) { checkFused(ctx, g, p, in, "eltwise_gemm", List.of(GpuTactics.GEMV)); }

    /**
     * As {@link #checkPrologue}, for a plan that must fuse one group of {@code kind} (and may merge) and run as the
     * {@code layers} kernels, every output compared.
     */
    static void checkFused(CudaContext ctx, Graph g, GpuEngine.Precision p, Map<String, Tensor> in, String kind, List<String> layers) {
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.valueOf(p.name())));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        assertEquals(List.of(kind), a.plan().groups().stream().map(gr -> gr.kind()).toList(), g.name() + " " + p + ": " + a.plan().nodes());
        // the precision the engine runs at: the search may leave a tiny graph at FP32, so pin the group to p
        List<PlannedNode> ns = new ArrayList<>();
        for (PlannedNode pn : a.plan().nodes()) ns.add(new PlannedNode(pn.node(), pn.op(), pn.tacticId(), pn.variant(), Precision.valueOf(p.name()), pn.layout(), pn.stream(), pn.predictedUs()));
        a = PlanApplier.apply(Searcher.prepare(g), a.plan().withNodes(ns));
        Map<String, Tensor> want = Engine.buildCpu(a.graph(), a.plan()).createContext().run(in);
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            // catalogue ids: the weight-only GEMV's layer adds its form as the variant
            assertEquals(layers, e.layerPlans().stream().map(l -> GpuTactics.catalogueId(l.tactic())).toList(), g.name());
            Map<String, Tensor> got = c.run(in);
            for (Value out : a.graph().outputs())
                org.tessel.runtime.gpu.GpuTestSupport.assertClose(g.name() + " " + p + " " + out.name(), got.get(out.name()), want.get(out.name()), tolerance(p));
        }
    }

    static double tolerance(GpuEngine.Precision p) {
        return switch (p) {
            case FP32 -> 1e-5;
            case FP16 -> 2e-3;
            default -> 4e-3;
        };
    }

    /** SiLU(gate) * up evaluated in the GEMV's x loader (the product never written), at M = 1 and 3, FP32, FP16 and BF16. */
    @Test void anElementwisePrologueIsEvaluatedAsTheGemvLoadsA() {
        int checked = 0;
        for (int rows : new int[] {1, 3})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                Graph g = siluDown(rows, 296, 75, p.storage(), rows * 5L + p.ordinal());
                checkPrologue(ctx, g, p, siluDownInputs(rows, 296, 75, p.storage(), rows + 11L));
                checked++;
            }
        assertEquals(6, checked);
    }

    /** A prologue input of another shape than A (a per-column scale [K] that is computed, not a constant) is refused naming the node and the value. */
    @Test void aPrologueInputOfAnotherShapeIsRefusedNamingTheNode() {
        var reg = OpRegistry.global();
        Graph g = new Graph("scaled");
        Value a = g.addInput("a", TensorType.of(DType.F32, Shape.of(1, 64))), s = g.addInput("s", TensorType.of(DType.F32, Shape.of(64)));
        Value scaled = g.addNode(reg.get("Mul"), "scale", List.of(a, s), Attributes.empty(), 1).output();
        Value y = g.addNode(reg.get("MatMul"), "proj", List.of(scaled, g.addConstant("w", Tensor.ofFloats(DType.F32, Shape.of(64, 16), new float[64 * 16]))), Attributes.empty(), 1).output();
        g.setOutputs(List.of(y));
        var cands = org.tessel.passes.fusion.FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals("eltwise_gemm")).toList();
        assertEquals(1, cands.size(), cands.toString());
        Node fused = org.tessel.passes.fusion.FusionGroups.fuse(new org.tessel.passes.rules.Rewriter(g, reg, new org.tessel.passes.PassStatistics()), cands.getFirst());
        String why = GemmTactics.GEMV.whyNot(fused, Precision.FP16, Layout.ANY);
        assertTrue(why != null && why.contains("'scale' reads %s of shape [64]") && why.contains("A's shape [1,64]"), why);
    }

    /**
     * A decoder's norm before its projections at {@code rows} activation rows: input "x" [rows, 1, k], RMSNormalization
     * over the last axis by a random constant scale [k] (epsilon 1e-5), then one MatMul by random constant [k, n] weights
     * per entry of {@code ns} named q_proj, k_proj, v_proj.. (one: then the residual Add of input "r" [rows, 1, n] when asked).
     */
    static Graph normProj(int rows, int k, int[] ns, DType t, long seed, boolean residual) {
        SplittableRandom r = new SplittableRandom(seed);
        var reg = OpRegistry.global();
        Graph g = new Graph("norm_proj_m" + rows + "k" + k + "x" + ns.length);
        Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(rows, 1, k)));
        float[] gamma = new float[k];
        for (int i = 0; i < k; i++) gamma[i] = Tensor.round(t, (float) (1 + 0.3 * r.nextGaussian()));
        Value normed = g.addNode(reg.get("RMSNormalization"), "input_layernorm", List.of(x, g.addConstant("gamma", Tensor.ofFloats(DType.F32, Shape.of(k), gamma))),
                Attributes.builder().put("axis", -1L).put("epsilon", 1e-5f).build(), 1).output();
        List<Value> outs = new ArrayList<>();
        String[] names = {"q_proj", "k_proj", "v_proj", "o_proj"};
        for (int j = 0; j < ns.length; j++) {
            float[] w = new float[k * ns[j]];
            for (int i = 0; i < w.length; i++) w[i] = Tensor.round(t, (float) (r.nextGaussian() * 0.1));
            Value y = g.addNode(reg.get("MatMul"), names[j], List.of(normed, g.addConstant("w" + j, Tensor.ofFloats(DType.F32, Shape.of(k, ns[j]), w))), Attributes.empty(), 1).output();
            if (residual) y = g.addNode(reg.get("Add"), "residual", List.of(g.addInput("r", TensorType.of(DType.F32, Shape.of(rows, 1, ns[j]))), y), Attributes.empty(), 1).output();
            outs.add(y);
        }
        g.setOutputs(outs);
        return g;
    }

    static Map<String, Tensor> normProjInputs(int rows, int k, int n, DType t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[rows * k], res = new float[rows * n];
        for (int i = 0; i < x.length; i++) x[i] = Tensor.round(t, (float) r.nextDouble(-2, 2));
        for (int i = 0; i < res.length; i++) res[i] = Tensor.round(t, (float) r.nextDouble(-1, 1));
        return Map.of("x", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, k), x), "r", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, n), res));
    }

    /** An RMSNormalization folded into the GEMV after it (the norm's result never written), with a residual Add, at M = 1 and 3, FP32, FP16 and BF16. */
    @Test void anRmsNormIsComputedInTheGemvsPassOverX() {
        int checked = 0;
        for (int rows : new int[] {1, 3})
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                Graph g = normProj(rows, 296, new int[] {75}, p.storage(), rows * 7L + p.ordinal(), true);
                checkFused(ctx, g, p, normProjInputs(rows, 296, 75, p.storage(), rows + 5L), "rmsnorm_gemm", List.of(GpuTactics.GEMV));
                checked++;
            }
        assertEquals(6, checked);
    }

    /**
     * The decode step's Q/K/V: one norm feeding three sibling MatMuls. The search merges them and fuses the norm with the
     * wide MatMul (one rmsnorm_gemm group), the one-row Split runs as views: one kernel for the norm and three projections.
     */
    @Test void aNormBeforeMergedProjectionsIsFusedIntoTheWideGemv() {
        for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
            Graph g = normProj(1, 256, new int[] {64, 32, 32}, p.storage(), 17 + p.ordinal(), false);
            checkFused(ctx, g, p, Map.of("x", normProjInputs(1, 256, 8, p.storage(), 3).get("x")), "rmsnorm_gemm", List.of(GpuTactics.GEMV, GpuTactics.SPLIT_VIEW));
        }
    }

    /** A norm whose result has a second user, or whose scale is computed, is refused naming the norm. */
    @Test void aNormUsedTwiceOrWithAComputedScaleIsRefusedNamingIt() {
        var reg = OpRegistry.global();
        for (boolean computedScale : new boolean[] {false, true}) {
            Graph g = new Graph("norm_refused");
            Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(1, 64)));
            Value gamma = computedScale ? g.addInput("gamma", TensorType.of(DType.F32, Shape.of(64))) : g.addConstant("gamma", Tensor.ofFloats(DType.F32, Shape.of(64), new float[64]));
            Node norm = g.addNode(reg.get("RMSNormalization"), "post_attention_layernorm", List.of(x, gamma), Attributes.empty(), 1);
            Node mm = g.addNode(reg.get("MatMul"), "proj", List.of(norm.output(), g.addConstant("w", Tensor.ofFloats(DType.F32, Shape.of(64, 16), new float[64 * 16]))), Attributes.empty(), 1);
            g.setOutputs(computedScale ? List.of(mm.output()) : List.of(mm.output(), norm.output()));
            var cands = org.tessel.passes.fusion.FusionPatterns.enumerate(g).stream().filter(c -> c.kind().equals("rmsnorm_gemm")).toList();
            assertEquals(computedScale ? 1 : 0, cands.size(), cands.toString());
            // a plan may still name the group: the tactic refuses it
            Node fused = org.tessel.passes.fusion.FusionGroups.fuse(new org.tessel.passes.rules.Rewriter(g, reg, new org.tessel.passes.PassStatistics()),
                    new org.tessel.passes.fusion.FusionCandidate("rmsnorm_gemm", List.of(norm, mm)));
            String why = GemmTactics.GEMV.whyNot(fused, Precision.FP16, Layout.ANY);
            assertTrue(why != null && why.contains("'post_attention_layernorm'") && why.contains(computedScale ? "computed" : "used outside the group"), why);
        }
    }
}
