package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.passes.PassManager;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.tactics.gemm.GemmTactics;

/**
 * {@code tessel.gemv.weight_only} running fused groups anchored on a {@code tessel.WeightOnlyMatMul}, inside GPU engines
 * on the emulated device (kernel logic and launch arguments, never speed), each planned by the joint search, against the
 * CPU engine of the same plan: a decoder's SiLU(gate) * up evaluated in down_proj's x loader with the residual Add
 * (eltwise_gemm), an RMSNormalization computed in the pass over x, gamma multiplied into x (rmsnorm_gemm), o_proj's bias
 * and residual Adds (gemm_bias_act), a norm before merged Q/K/V; INT8 and INT4 weights in groups of 32 and 128, M = 1, 3, 5 and 8 (one pass over the weights for all rows), FP16 activations;
 * K split over 1, 2 and 4 warps
 * (relative L2 within 2e-3: the CPU rounds the prologue's or norm's result to f16, the GPU keeps it in f32).
 */
class WeightOnlyGemvFusedEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** {@code g} with its constant-weight MatMuls quantized to {@code bits} in groups of {@code group} (f16 scales), the graph-output MatMuls too. */
    static Graph quantized(Graph g, int bits, int group) {
        new PassManager().run(g, "quantize-weights{bits=" + bits + ",group-size=" + group + ",symmetric=true,lm-head=true,scale-type=f16}");
        assertTrue(g.nodes().stream().anyMatch(n -> n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY)), g.name() + " quantized: " + g.nodes());
        assertTrue(g.nodes().stream().noneMatch(n -> n.opName().equals("MatMul")), g.name() + " quantized: " + g.nodes());
        return g;
    }

    static final int[][] FORMATS = {{8, 32}, {8, 128}, {4, 32}, {4, 128}};

    /** SiLU(gate) * up evaluated as down_proj's weight-only GEMV loads A, then the residual Add: one kernel. */
    @Test void anElementwisePrologueIsEvaluatedAsTheWeightOnlyGemvLoadsA() {
        int checked = 0;
        for (int[] f : FORMATS)
            for (int rows : new int[] {1, 3, 5, 8}) {
                GpuEngine.Precision p = GpuEngine.Precision.FP16;
                Graph g = quantized(GemvEmulatedTest.siluDown(rows, 256, 75, p.storage(), rows * 5L + f[0] + f[1]), f[0], f[1]);
                GemvEmulatedTest.checkFused(ctx, g, p, GemvEmulatedTest.siluDownInputs(rows, 256, 75, p.storage(), rows + 11L), "eltwise_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
                checked++;
            }
        assertEquals(16, checked);
    }

    /**
     * Each K split (1, 2 and 4 warps a row group, from N, K, the passes and the emulated device's 132 SMs) against the CPU
     * engine, N=75: INT4 g128 at K 1024 (32 chunks of codes a row: 1), 2048 (64: 2) and 4224 (132: 4, the first warp of a
     * group one slice more), INT8 g128 at K 2048 (128 chunks: 4); SiLU * up into down_proj with the residual, and the
     * norm into a projection with the residual, at 1 and 5 activation rows.
     */
    @Test void everyKSplitMatchesTheCpuEngine() {
        int sms = ctx.device().smCount();
        int[][] cases = {{4, 1024, 1}, {4, 2048, 2}, {4, 4224, 4}, {8, 2048, 4}};
        GpuEngine.Precision p = GpuEngine.Precision.FP16;
        for (int[] c : cases)
            for (int rows : new int[] {1, 5}) {
                int bits = c[0], k = c[1];
                assertEquals(c[2], org.tessel.runtime.gpu.kernels.WeightOnlyGemv.kSplit(75, k, bits, rows, sms), bits + "-bit K=" + k);
                Graph down = quantized(GemvEmulatedTest.siluDown(rows, k, 75, p.storage(), rows * 5L + k + bits), bits, 128);
                GemvEmulatedTest.checkFused(ctx, down, p, GemvEmulatedTest.siluDownInputs(rows, k, 75, p.storage(), rows + 11L), "eltwise_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
                Graph norm = quantized(GemvEmulatedTest.normProj(rows, k, new int[] {75}, p.storage(), rows * 7L + k + bits, true), bits, 128);
                GemvEmulatedTest.checkFused(ctx, norm, p, GemvEmulatedTest.normProjInputs(rows, k, 75, p.storage(), rows + 5L), "rmsnorm_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
            }
    }

    /** An RMSNormalization computed in the weight-only GEMV's pass over x (gamma multiplied into x), with the residual Add: one kernel. */
    @Test void anRmsNormIsComputedInTheWeightOnlyGemvsPassOverX() {
        int checked = 0;
        for (int[] f : FORMATS)
            for (int rows : new int[] {1, 3, 5, 8}) {
                GpuEngine.Precision p = GpuEngine.Precision.FP16;
                Graph g = quantized(GemvEmulatedTest.normProj(rows, 256, new int[] {75}, p.storage(), rows * 7L + f[0] + f[1], true), f[0], f[1]);
                GemvEmulatedTest.checkFused(ctx, g, p, GemvEmulatedTest.normProjInputs(rows, 256, 75, p.storage(), rows + 5L), "rmsnorm_gemm", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
                checked++;
            }
        assertEquals(16, checked);
    }

    /**
     * The decode step's Q/K/V on quantized weights: one norm feeding three sibling weight-only MatMuls. The search merges
     * them (codes, scales stacked as rows) and fuses the norm with the wide one (an rmsnorm_gemm), the one-row Split runs as
     * views: one kernel for the norm and three projections, INT8 and INT4.
     */
    @Test void aNormBeforeMergedQuantizedProjectionsIsFusedIntoTheWideGemv() {
        for (int[] f : new int[][] {{8, 128}, {4, 32}}) {
            GpuEngine.Precision p = GpuEngine.Precision.FP16;
            Graph g = quantized(GemvEmulatedTest.normProj(1, 256, new int[] {64, 32, 32}, p.storage(), 17 + f[0], false), f[0], f[1]);
            GemvEmulatedTest.checkFused(ctx, g, p, Map.of("x", GemvEmulatedTest.normProjInputs(1, 256, 8, p.storage(), 3).get("x")), "rmsnorm_gemm",
                    List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.SPLIT_VIEW));
        }
    }

    /** o_proj with a bias and the residual stream: the MatMul and both Adds as one weight-only GEMV (gemm_bias_act). */
    @Test void aBiasAndResidualAreAddedInTheWeightOnlyGemvsEpilogue() {
        for (int[] f : new int[][] {{8, 128}, {4, 32}})
            for (int rows : new int[] {1, 3, 5, 8}) {
                GpuEngine.Precision p = GpuEngine.Precision.FP16;
                Graph g = quantized(GemvEmulatedTest.matmul(new int[] {rows, 1, 128}, 128, 40, p.storage(), 9 + rows, true, true), f[0], f[1]);
                SplittableRandom r = new SplittableRandom(4 + rows);
                float[] v = new float[rows * 128], res = new float[rows * 40];
                for (int i = 0; i < v.length; i++) v[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                for (int i = 0; i < res.length; i++) res[i] = Tensor.round(p.storage(), (float) r.nextDouble(-1, 1));
                GemvEmulatedTest.checkFused(ctx, g, p, Map.of("a", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, 128), v), "r", Tensor.ofFloats(DType.F32, Shape.of(rows, 1, 40), res)),
                        "gemm_bias_act", List.of(GpuTactics.GEMV_WEIGHT_ONLY));
            }
    }

    /**
     * Groups the weight-only GEMV does not take are refused naming the node: a norm whose result has a second user, a
     * norm scale that is computed, an Add of another shape after the product; the tiled weight-only GEMM takes no group.
     */
    @Test void groupsTheKernelDoesNotTakeAreRefusedNamingTheNode() {
        var reg = OpRegistry.global();
        for (int variant = 0; variant < 3; variant++) {
            Graph g = new Graph("wo_refused" + variant);
            Value x = g.addInput("x", TensorType.of(DType.F32, Shape.of(1, 64)));
            Value gamma = variant == 1 ? g.addInput("gamma", TensorType.of(DType.F32, Shape.of(64))) : g.addConstant("gamma", Tensor.ofFloats(DType.F32, Shape.of(64), new float[64]));
            Node norm = g.addNode(reg.get("RMSNormalization"), "post_attention_layernorm", List.of(x, gamma), Attributes.empty(), 1);
            Node mm = g.addNode(reg.get("MatMul"), "proj", List.of(norm.output(), g.addConstant("w", Tensor.ofFloats(DType.F32, Shape.of(64, 16), new float[64 * 16]))), Attributes.empty(), 1);
            Node add = g.addNode(reg.get("Add"), "odd_add", List.of(mm.output(), g.addInput("r", TensorType.of(DType.F32, Shape.of(16)))), Attributes.empty(), 1);
            g.setOutputs(variant == 0 ? List.of(add.output(), norm.output()) : List.of(add.output()));
            quantized(g, 4, 32);
            Node wo = g.nodes().stream().filter(n -> n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY)).findFirst().orElseThrow();
            List<Node> members = variant == 2 ? List.of(wo, add) : List.of(norm, wo);
            String kind = variant == 2 ? "gemm_bias_act" : "rmsnorm_gemm";
            Node fused = org.tessel.passes.fusion.FusionGroups.fuse(new org.tessel.passes.rules.Rewriter(g, reg, new org.tessel.passes.PassStatistics()),
                    new org.tessel.passes.fusion.FusionCandidate(kind, members));
            String why = GemmTactics.WEIGHT_ONLY_GEMV.whyNot(fused, Precision.FP16, Layout.ANY);
            String want = switch (variant) {
                case 0 -> "used outside the group";
                case 1 -> "computed";
                default -> "'odd_add' adds [16]";
            };
            assertTrue(why != null && why.contains(variant == 2 ? "odd_add" : "'post_attention_layernorm'") && why.contains(want), variant + ": " + why);
            String gemm = GemmTactics.WEIGHT_ONLY_GEMM.whyNot(fused, Precision.FP16, Layout.ANY);
            assertTrue(gemm != null && gemm.contains("tessel.WeightOnlyMatMul"), gemm);
        }
    }
}
