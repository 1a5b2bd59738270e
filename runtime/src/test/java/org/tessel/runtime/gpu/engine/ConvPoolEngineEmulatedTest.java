package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * {@code tessel.conv.stem_pool} in engines on the emulated device (a test of the kernel's logic and the builder's
 * wiring, not of speed): a stem (7x7/2 conv of 3 channels, bias, ReLU, 3x3/2 max pool) held at FP16 by precision rules
 * (at this small size FP32 throughout is cheaper on paper), which the joint search then plans as one conv_pool group,
 * built as a GPU engine from that plan and run against the CPU engine of the same plan (which rounds
 * to f16 where the plan does) and the FP32 reference. Reading the network input in NCHW (the stem's reformat absorbed:
 * the reformat layer does nothing) and reading an NHWC activation computed before it.
 */
class ConvPoolEngineEmulatedTest {
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 28); }

    @AfterAll static void close() { ctx.close(); }

    /** x [2, 3, h, w] (doubled first when {@code computedInput}, so the stem reads an activation) -> conv 7x7/2 + bias -> Relu -> MaxPool 3x3/2 pad 1. */
    static Graph stem(int h, int w, int cout, boolean computedInput, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        NetworkBuilder b = new NetworkBuilder("stem" + (computedInput ? "_after_add" : ""));
        Value x = b.input("x", DType.F32, 2, 3, h, w);
        if (computedInput) x = b.name("double").op("Add", Attributes.empty(), x, x);
        Attributes conv = Attributes.builder().put("kernel_shape", new long[] {7, 7}).put("pads", new long[] {3, 3, 3, 3}).put("strides", new long[] {2, 2}).build();
        Value y = b.name("conv1").op("Conv", conv, x, b.constant("w", GpuTestSupport.random(r, DType.F32, cout, 3, 7, 7)), b.constant("b", GpuTestSupport.random(r, DType.F32, cout)));
        y = b.name("relu").op("Relu", Attributes.empty(), y);
        Attributes pool = Attributes.builder().put("kernel_shape", new long[] {3, 3}).put("pads", new long[] {1, 1, 1, 1}).put("strides", new long[] {2, 2}).build();
        y = b.name("maxpool").op("MaxPool", pool, y);
        return b.output(y).build();
    }

    @Test void theJointPlansFusedStemMatchesTheCpuEngineAndTheReference() {
        for (boolean computed : new boolean[] {false, true}) {
            Graph g = stem(37, 42, 64, computed, 5);
            SearchOptions o = SearchOptions.defaults().withTarget("h100").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16))
                    .withPrecisionRules(List.of("conv1=fp16", "relu=fp16", "maxpool=fp16").stream().map(org.tessel.search.PrecisionRule::parse).toList());
            SearchProblem p = Searcher.problem(Searcher.prepare(g), o);
            PlanApplier.Applied a = EnginePlans.complete(p, Searcher.run(p, "exact", o));
            assertTrue(a.plan().nodes().stream().anyMatch(n -> n.tacticId().equals(GpuTactics.CONV_POOL) && n.precision() == Precision.FP16),
                    g.name() + ": the joint plan runs the stem on " + GpuTactics.CONV_POOL + ": " + a.plan().nodes());
            List<Tensor> in = List.of(GpuTestSupport.random(new SplittableRandom(9), DType.F32, 2, 3, 37, 42));
            Tensor want = new ReferenceInterpreter().run(g, in).getFirst();
            Tensor cpu = Engine.buildCpu(a.graph(), a.plan()).createContext().run(in).getFirst();
            try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
                 GpuExecutionContext c = e.createExecutionContext()) {
                List<String> tactics = e.layerPlans().stream().map(LayerPlan::tactic).toList();
                assertTrue(tactics.contains(GpuTactics.CONV_POOL), g.name() + ": " + tactics);
                if (!computed) assertTrue(tactics.stream().anyMatch(t -> t.contains("absorbed")), g.name() + ": the input's reformat is absorbed: " + tactics);
                Tensor gpu = c.run(in).getFirst();
                assertEquals(want.shape(), gpu.shape());
                double vsCpu = Tensor.relativeL2(cpu, gpu), vsRef = Tensor.relativeL2(want, gpu);
                System.out.printf(Locale.ROOT, "%s: GPU (emulated) vs CPU engine rel L2 %.2e, vs FP32 reference %.2e; layers %s%n", g.name(), vsCpu, vsRef, tactics);
                assertTrue(vsCpu < 2e-3, g.name() + ": rel L2 against the CPU engine " + vsCpu);
                assertTrue(vsRef < 5e-3, g.name() + ": rel L2 against the reference " + vsRef);
            }
        }
    }
}
