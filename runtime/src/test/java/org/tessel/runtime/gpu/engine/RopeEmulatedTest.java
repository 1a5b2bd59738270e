package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.Rope;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * {@code tessel.rope} inside GPU engines on the emulated device (kernel logic and launch arguments, never speed): a
 * decoder's rotary embedding written as its Split/Neg/Concat/Mul/Add, which the search's preparation recognises as
 * tessel.RotaryEmbedding and the plan puts on tessel.rope, against the CPU engine running the decomposed graph. The
 * shapes are a llama-tiny step's (head size 16, 4 query and 2 KV heads): paged decode q and k [B, 1, H, 16] with
 * cos [B, 1, 1, 16], a paged prefill chunk [B, N, H, 16] with [B, N, 1, 16], the contiguous form [B, H, N, 16] with
 * [B, 1, N, 16]; at FP32, FP16 and BF16. Inputs are drawn representable in the storage type, so both sides rotate the
 * same values: each output is within the storage type's unit u of |x_i cos_i| + |x_j sin_i| (f32: 2^-22).
 */
class RopeEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** x * cos + concat(-x2, x1) * sin as the zoo's decoders write it, x, cos and sin graph inputs. */
    static Graph decomposed(int[] xs, int[] cs) {
        NetworkBuilder b = new NetworkBuilder("rope_" + java.util.Arrays.toString(xs).replaceAll("[^0-9]+", "x") + "cos" + java.util.Arrays.toString(cs).replaceAll("[^0-9]+", "x"));
        Value x = b.input("x", DType.F32, xs), cos = b.input("cos", DType.F32, cs), sin = b.input("sin", DType.F32, cs);
        int d = xs[xs.length - 1];
        List<Value> h = b.name("q.rotate_half.split").split(x, -1, d / 2, d / 2);
        Value rot = b.name("q.rotate_half").concat(-1, b.name("q.rotate_half.neg").op("Neg", Attributes.empty(), h.get(1)), h.get(0));
        return b.output(b.name("q.rope").add(b.name("q.rope.cos").mul(x, cos), b.name("q.rope.sin").mul(rot, sin))).build();
    }

    /** The rule's plan at FP32 and {@code p}. */
    static PlanApplier.Applied planned(Graph g, GpuEngine.Precision p) {
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.valueOf(p.name())));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        return EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
    }

    static Tensor random(SplittableRandom r, DType storage, int... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = Tensor.round(storage, (float) r.nextDouble(-2, 2));
        return Tensor.ofFloats(DType.F32, s, v);
    }

    static void check(CudaContext ctx, int[] xs, int[] cs, GpuEngine.Precision p, long seed) {
        Graph g = decomposed(xs, cs);
        SplittableRandom r = new SplittableRandom(seed);
        Tensor x = random(r, p.storage(), xs), cos = random(r, p.storage(), cs), sin = random(r, p.storage(), cs);
        Map<String, Tensor> in = Map.of("x", x, "cos", cos, "sin", sin);
        Tensor want = Engine.buildCpu(g).createContext().run(in).get(g.outputs().get(0).name());
        PlanApplier.Applied a = planned(g, p);
        Tensor got;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), p, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext c = e.createExecutionContext()) {
            assertEquals(List.of(GpuTactics.ROPE), e.layerPlans().stream().map(l -> l.tactic()).distinct().toList(), g.name() + " " + p);
            got = c.run(in).get(a.graph().outputs().get(0).name());
        }
        assertEquals(want.shape(), got.shape(), g.name());
        double u = switch (p) {
            case FP32 -> 0x1p-22;
            case FP16 -> 0x1p-10;
            default -> 0x1p-7;
        };
        int d = xs[xs.length - 1], half = d / 2;
        int[] ci = org.tessel.ir.ops.OpUtil.broadcastIndex(Shape.of(cs), Shape.of(xs));
        for (int i = 0; i < want.size(); i++) {
            int k = i % d, partner = k < half ? i + half : i - half;
            double mag = Math.abs(x.getFloat(i) * cos.getFloat(ci[i])) + Math.abs(x.getFloat(partner) * sin.getFloat(ci[i]));
            double err = Math.abs(got.getFloat(i) - want.getFloat(i)), bound = u * mag + 1e-30;
            assertTrue(err <= bound, g.name() + " " + p + " element " + i + ": " + got.getFloat(i) + " vs " + want.getFloat(i) + " (bound " + bound + ")");
        }
    }

    /** llama-tiny's step shapes: {x, cos} pairs. */
    static final int[][][] LLAMA_TINY = {
            {{2, 1, 4, 16}, {2, 1, 1, 16}},   // paged decode, q
            {{2, 1, 2, 16}, {2, 1, 1, 16}},   // paged decode, k
            {{2, 7, 4, 16}, {2, 7, 1, 16}},   // paged prefill chunk
            {{2, 4, 7, 16}, {2, 1, 7, 16}},   // contiguous prefill, [batch, heads, seq, D]
            {{1, 2, 1, 16}, {1, 1, 1, 16}}};  // contiguous decode, k

    @Test void theRopeKernelMatchesTheCpuEngineOverLlamaTinyShapesAndPrecisions() {
        int checked = 0;
        for (int[][] s : LLAMA_TINY)
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16, GpuEngine.Precision.BF16)) {
                check(ctx, s[0], s[1], p, checked);
                checked++;
            }
        assertEquals(15, checked);
    }

    @Test void fullWidthCosAndALowerRankCosAreIndexedRight() {
        check(ctx, new int[] {3, 2, 5, 8}, new int[] {3, 2, 5, 8}, GpuEngine.Precision.FP32, 1);   // no broadcast
        check(ctx, new int[] {3, 2, 5, 8}, new int[] {5, 8}, GpuEngine.Precision.FP16, 2);         // cos of lower rank
        check(ctx, new int[] {6, 10}, new int[] {1, 10}, GpuEngine.Precision.BF16, 3);              // rank 2
    }

    @Test void shapesTheKernelCannotIndexAreRefusedBeforeALaunch() {
        assertTrue(Rope.whyNot(Shape.of(1, 1, 1, 1, 1, 8), Shape.of(8)).contains("rank 1 to 5 (got rank 6)"));
        assertTrue(Rope.whyNot(Shape.of(2, 7), Shape.of(7)).contains("even, non-zero last dimension (got 7)"));
        assertTrue(Rope.whyNot(Shape.of(2, 3, 8), Shape.of(2, 2, 8)).contains("to broadcast onto x"));
        try (KernelCompiler kc = new KernelCompiler(ctx); DeviceBuffer small = DeviceBuffer.allocate(16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Rope.launch(kc, DType.F32, Shape.of(2, 8), Shape.of(8), small, small, small, small, null));
            assertTrue(e.getMessage().contains("input buffer holds 16 bytes, needs 16 f32 elements"), e.getMessage());
        }
    }
}
