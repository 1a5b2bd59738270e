package org.tessel.accuracy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.tessel.cost.Precision;
import org.tessel.search.SearchProblem;
import org.tessel.search.accuracy.ErrorModel;

/**
 * The sensitivity cache key with INT8 follows the calibration: the same scales give the same key
 * (the cache is reused), any scale changed (even by one ulp), or another calibrator, gives another
 * key, so a cached model measured with other scales is not read; without INT8 among the precisions
 * the scales do not enter the key.
 */
class CalibratedScalesFingerprintTest {
    static final Set<Precision> WITH_INT8 = EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8);
    static final Set<Precision> WITHOUT = EnumSet.of(Precision.FP32, Precision.FP16);

    static SearchProblem problem() { return SensitivityTest.problem("resnet50-tiny"); }

    static AccuracyInputs inputs() { return AccuracyInputs.generated(problem().prepared(), 0, 1); }

    @Provide Arbitrary<Map<String, Float>> scales() {
        return Arbitraries.floats().between(1e-4f, 10f).ofScale(7).list().ofMinSize(1).ofMaxSize(8).map(vs -> {
            Map<String, Float> m = new LinkedHashMap<>();
            for (int i = 0; i < vs.size(); i++) m.put("t" + i, vs.get(i));
            return m;
        });
    }

    @Property(tries = 40)
    void differentScalesInvalidateTheCacheKey(@ForAll("scales") Map<String, Float> scales, @ForAll @IntRange(min = 0, max = 7) int which,
                                              @ForAll @IntRange(min = 1, max = 1000) int ulps) throws Exception {
        SearchProblem p = problem();
        AccuracyInputs in = inputs();
        CalibratedScales a = new CalibratedScales("entropy", scales);
        String key = Sensitivity.fingerprint(p, WITH_INT8, in, a);
        // the same scales (another map, another order): the same key
        Map<String, Float> reversed = new LinkedHashMap<>();
        List<String> names = List.copyOf(scales.keySet());
        for (int i = names.size() - 1; i >= 0; i--) reversed.put(names.get(i), scales.get(names.get(i)));
        assertEquals(key, Sensitivity.fingerprint(p, WITH_INT8, in, new CalibratedScales("entropy", reversed)));
        // one scale moved by some ulps: another key
        Map<String, Float> moved = new LinkedHashMap<>(scales);
        String t = names.get(which % names.size());
        moved.put(t, Float.intBitsToFloat(Float.floatToIntBits(scales.get(t)) + ulps));
        String other = Sensitivity.fingerprint(p, WITH_INT8, in, new CalibratedScales("entropy", moved));
        assertNotEquals(key, other, "scale of " + t + " changed by " + ulps + " ulp");
        // another calibrator, a scale more, no scales at all: other keys
        assertNotEquals(key, Sensitivity.fingerprint(p, WITH_INT8, in, new CalibratedScales("minmax", scales)));
        Map<String, Float> more = new LinkedHashMap<>(scales);
        more.put("extra", 1f);
        assertNotEquals(key, Sensitivity.fingerprint(p, WITH_INT8, in, new CalibratedScales("entropy", more)));
        assertNotEquals(key, Sensitivity.fingerprint(p, WITH_INT8, in, null));
        // without INT8 the scales are not measured, so they are not in the key
        assertEquals(Sensitivity.fingerprint(p, WITHOUT, in), Sensitivity.fingerprint(p, WITHOUT, in, a));
        assertEquals(Sensitivity.fingerprint(p, WITHOUT, in, a), Sensitivity.fingerprint(p, WITHOUT, in, new CalibratedScales("entropy", moved)));

        // the cache: a model written under the first key is read back by it, and not by the other scales' key
        Path dir = Files.createTempDirectory("int8-sens");
        try {
            SensitivityCache cache = new SensitivityCache(dir);
            ErrorModel m = new ErrorModel(key, Map.of("conv", Map.of(Precision.INT8, new ErrorModel.NodeError(0.001, Double.NaN))), 1);
            cache.write("resnet50-tiny", new Sensitivity.Measured(m, 2, 0, 0.1, false), "test");
            assertTrue(cache.read("resnet50-tiny", key).isPresent());
            assertEquals(0.001, cache.read("resnet50-tiny", key).orElseThrow().error("conv", Precision.INT8, org.tessel.search.accuracy.AccuracyBudget.Metric.REL_L2), 1e-12);
            assertTrue(cache.read("resnet50-tiny", other).isEmpty(), "other scales: measured again");
        } finally {
            try (var s = Files.list(dir)) { for (Path f : s.toList()) Files.delete(f); }
            Files.delete(dir);
        }
    }
}
