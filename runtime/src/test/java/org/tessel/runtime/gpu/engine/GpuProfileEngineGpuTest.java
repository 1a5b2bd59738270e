package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ProfileSet;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * The GPU profile engine on a real GPU with ResNet-50 (zoo, FP16): a fixed-shape batch-32 engine built from the joint
 * plan, and a dynamic-batch engine with the profile 1..64 (opt 32) whose plan is the fixed engine's as built (its
 * variants); at batch 2 and 3 the profile engine's outputs against the reference interpreter, at batch 32 against the
 * fixed engine's; every shape in one arena, planned at batch 64; weights uploaded once; a batch of 65 refused.
 */
@Tag("gpu")
class GpuProfileEngineGpuTest {
    @Test void resNet50WithADynamicBatchProfileMatchesTheReferenceAndTheFixedBatch32Engine() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Graph model = Zoo.build("resnet50", ZooOptions.defaults().withBatch(1));
        ShapeSpecializer src = new ShapeSpecializer(OnnxExporter.toModel(model), "zoo:resnet50");
        String input = model.inputs().getFirst().name();
        OptimizationProfile profile = ProfileEngines.profile(0, input, Shape.of(1, 3, 224, 224), Shape.of(32, 3, 224, 224), Shape.of(64, 3, 224, 224));
        ProfileSet solved = ProfileEngines.solve(src, List.of(profile), "joint",
                org.tessel.search.SearchOptions.defaults().withTarget("h200-measured").withPrecisions(java.util.EnumSet.of(org.tessel.cost.Precision.FP32, org.tessel.cost.Precision.FP16)));
        assertEquals(null, solved.shapeDependence(0), "ResNet-50 is shape-generic");
        PlanApplier.Applied at32 = solved.planIn(0, profile.at(OptimizationProfile.Point.OPT)).planned().applied();
        try (GpuEngine fixed = GpuEngine.build(at32.graph(), at32.plan(), GpuEngine.precisionFor(at32.plan(), at32.graph()), ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext fc = fixed.createExecutionContext()) {
            System.out.println("fixed b32 engine: " + fixed.describePrecision() + ", " + fixed.layerPlans().size() + " layers");
            ProfileSet set = GpuProfileEngine.measured(new ProfileSet(src, Searcher.PIPELINE, List.of(profile), List.of(fixed.plan()), List.of(new ProfileSet.Memory(0, 0)),
                    java.util.Collections.singletonList((String) null)), ctx, fixed.kernelPtx());
            assertTrue(set.maxMemory(0).arenaBytes() > 0);
            try (GpuProfileEngine pe = new GpuProfileEngine(set, ctx, 4, fixed.kernelPtx())) {
                for (int batch : new int[] {2, 3}) {
                    Tensor x = GpuTestSupport.random(new SplittableRandom(batch), DType.F32, Shape.of(batch, 3, 224, 224), -1, 1);
                    Map<String, Tensor> in = Map.of(input, x);
                    Tensor got = pe.run(in).values().iterator().next();
                    Graph ref = Zoo.build("resnet50", ZooOptions.defaults().withBatch(batch));
                    Tensor want = GpuTestSupport.reference(ref, Map.of(ref.inputs().getFirst().name(), x)).values().iterator().next();
                    GpuTestSupport.assertClose("profile resnet50 FP16 batch " + batch, got, want, 5e-2);
                }
                Tensor x32 = GpuTestSupport.random(new SplittableRandom(32), DType.F32, Shape.of(32, 3, 224, 224), -1, 1);
                Tensor dyn = pe.run(Map.of(input, x32)).values().iterator().next();
                Tensor fix = fc.run(List.of(x32)).getFirst();
                GpuTestSupport.assertClose("profile resnet50 FP16 batch 32 vs the fixed b32 engine", dyn, fix, 1e-3);
                GpuProfileEngine.Specialisation s64 = pe.specialise(profile.at(OptimizationProfile.Point.MAX));
                assertTrue(s64.engine().bindsProfileArena(), "batch 64 fits the arena planned at 64");
                ProfileDeviceMemory.Arena arena = pe.memory().arenaOf(0);
                assertEquals(3, arena.allocations(), "one arena, one input buffer, one workspace for batches 2, 3, 32 and 64");
                assertEquals(0, arena.ownArenas());
                assertEquals(0, arena.ownWorkspaces(), "the workspace measured at 64 serves every batch");
                int uploads = pe.memory().weightUploads();
                pe.specialise(Map.of(input, Shape.of(7, 3, 224, 224)));
                assertEquals(uploads, pe.memory().weightUploads(), "a new shape uploads no weight");
                String m = assertThrows(EngineRunException.class, () -> pe.specialise(Map.of(input, Shape.of(65, 3, 224, 224)))).getMessage();
                assertTrue(m.contains("dimension 0 = 65 is outside 1..64 in profile 0"), m);
                System.out.printf("RESULT|profile resnet50 FP16 1..64|-|-|-|-|arena %.1f MiB shared by %d shapes, weights %.1f MiB uploaded %d times, reused %d|ok%n",
                        arena.bytes() / 1048576.0, pe.specialisations(), pe.memory().weightBytes() / 1048576.0, pe.memory().weightUploads(), pe.memory().weightReuses());
            }
        }
    }
}
