package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Float8E4M3;
import org.tessel.ir.zoo.KvCacheFormat;
import org.tessel.ir.zoo.Zoo;

/**
 * The FP8 E4M3 KV cache on the CPU: stored codes are e4m3(x / scale) and reads give code * scale, exactly; paged
 * attention over an FP8 cache equals contiguous attention over the dequantized keys and values; llama-tiny with a
 * calibrated FP8 cache against the same runner with an f32 cache (logit error bound, greedy tokens); calibration
 * scales; refusals.
 */
class KvCacheFp8Test {
    private static final long SEED = 3;

    @Test void appendQuantizesAndReadsDequantizeExactly() {
        int kvh = 2, hd = 16, bs = 4;
        float[] ks = {0.01f, 0.02f}, vs = {0.005f, 0.03f};
        PagedKvCache c = new PagedKvCache(2, kvh, hd, bs, 6, KvCacheFormat.fp8(ks, vs));
        assertEquals(2L * 2 * kvh * hd, c.bytesPerToken(), "one byte per element");
        SplittableRandom r = new SplittableRandom(5);
        c.reserve("a", 7);
        List<float[][][]> tokens = new ArrayList<>();
        for (int p = 0; p < 7; p++) {
            float[][] k = new float[2][kvh * hd], v = new float[2][kvh * hd];
            for (int l = 0; l < 2; l++)
                for (int e = 0; e < kvh * hd; e++) {
                    k[l][e] = (float) (6 * r.nextGaussian()); // some beyond 448 * 0.01: saturate
                    v[l][e] = (float) r.nextGaussian();
                }
            c.append("a", k, v);
            tokens.add(new float[][][] {k, v});
        }
        float[] got = new float[hd];
        int saturated = 0;
        for (int p = 0; p < 7; p++)
            for (int l = 0; l < 2; l++)
                for (int h = 0; h < kvh; h++)
                    for (int kv = 0; kv < 2; kv++) {
                        c.read("a", l, p, h, kv == 1, got, 0);
                        float s = kv == 0 ? ks[l] : vs[l];
                        for (int d = 0; d < hd; d++) {
                            float x = tokens.get(p)[kv][l][h * hd + d];
                            float want = Float8E4M3.toFloat(Float8E4M3.toBits(x / s, true)) * s;
                            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[d]), "layer " + l + " position " + p);
                            if (Math.abs(x / s) > Float8E4M3.MAX) saturated++;
                        }
                    }
        assertTrue(saturated > 0, "the data reaches saturation");
    }

    @Test void pagedAttentionOverFp8EqualsContiguousOverTheDequantizedCache() {
        int kvh = 2, hd = 16, heads = 4, bs = 4, len = 11;
        PagedKvCache c = new PagedKvCache(1, kvh, hd, bs, 8, KvCacheFormat.fp8(1, 0.01f));
        SplittableRandom r = new SplittableRandom(9);
        c.reserve("x", 3);
        c.reserve("y", len);
        c.reserve("x", 9); // interleave the tables
        for (int p = 0; p < len; p++) {
            float[][] k = new float[1][kvh * hd], v = new float[1][kvh * hd];
            for (int e = 0; e < kvh * hd; e++) {
                k[0][e] = (float) r.nextGaussian();
                v[0][e] = (float) r.nextGaussian();
            }
            c.append("y", k, v);
        }
        float[] k = new float[kvh * len * hd], v = new float[k.length];
        for (int h = 0; h < kvh; h++)
            for (int p = 0; p < len; p++) {
                c.read("y", 0, p, h, false, k, (h * len + p) * hd);
                c.read("y", 0, p, h, true, v, (h * len + p) * hd);
            }
        float[] q = new float[heads * hd];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        assertArrayEquals(PagedAttention.contiguous(k, v, len, q, heads, kvh, hd), PagedAttention.decode(c, "y", 0, q, heads));
    }

    /**
     * llama-tiny, scales calibrated (amax / 448) on two prompts other than the test's, 4 prompts x 8 steps, both caches
     * fed the f32 cache's greedy tokens (teacher forcing, so one early flip does not make every later step differ).
     * Bound on the logits: relative L2 under 0.15 per step and max abs error under 0.6 (measured 0.106 and 0.38
     * at logits up to ~4; greedy agreement 27/32, every one of the 11 decisive steps equal: E4M3 keeps 3 mantissa bits, a relative rounding of up to 1/16 per element, and the
     * random model has no outliers to protect; W8A8 gives 0.05 on the same model). Greedy tokens: the seeded random
     * model's top-2 margins are often below 0.05, so tokens may flip; every step whose f32 top-2 margin exceeds twice
     * that step's max abs logit error must pick the same token (the flip is then impossible), and at least half agree.
     */
    @Test void llamaTinyFp8DecodeStaysCloseToTheF32Cache() {
        String model = "llama-tiny";
        DecoderRunner f32 = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        KvCacheFormat fp8 = KvCalibration.calibrate(f32, List.of(new long[] {9, 8, 7, 6, 5, 4, 3, 2, 1, 100, 200, 300}, new long[] {400, 401, 402, 17, 18}));
        DecoderRunner q = f32.withKvCache(fp8);
        long[][] prompts = {{11, 200, 37, 5, 480}, {7, 7, 300}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {250, 120, 33}};
        double worstAbs = 0, worstRel = 0;
        int agree = 0, total = 0, decisive = 0;
        for (long[] prompt : prompts) {
            PagedKvCache a = f32.newCache(4, 16), b = q.newCache(4, 16);
            long[] feed = prompt;
            for (int step = 0; step < 8; step++) {
                float[] la = f32.step(List.of(new DecoderRunner.Row("s", feed)), a).get(0), lb = q.step(List.of(new DecoderRunner.Row("s", feed)), b).get(0);
                double num = 0, den = 0, abs = 0;
                for (int i = 0; i < la.length; i++) {
                    abs = Math.max(abs, Math.abs(la[i] - lb[i]));
                    num += (la[i] - lb[i]) * (double) (la[i] - lb[i]);
                    den += la[i] * (double) la[i];
                }
                worstAbs = Math.max(worstAbs, abs);
                worstRel = Math.max(worstRel, Math.sqrt(num / den));
                long ta = Sampler.greedy().next(la), tb = Sampler.greedy().next(lb);
                float[] sorted = la.clone();
                java.util.Arrays.sort(sorted);
                double margin = sorted[sorted.length - 1] - sorted[sorted.length - 2];
                if (margin > 2 * abs) {
                    decisive++;
                    assertEquals(ta, tb, "step " + step + " of prompt " + java.util.Arrays.toString(prompt) + ": margin " + margin + " > 2 x error " + abs);
                }
                total++;
                if (ta == tb) agree++;
                feed = new long[] {ta};
            }
            assertEquals(a.bytesPerToken(), 4 * b.bytesPerToken(), "f32 against one byte");
        }
        System.out.printf("llama-tiny FP8 KV (%s) vs f32: max abs logit error %.4g, max relative L2 %.4g, greedy agreement %d/%d (%d decisive steps)%n",
                fp8.describe(), worstAbs, worstRel, agree, total, decisive);
        assertTrue(worstAbs < 0.6, "max abs logit error " + worstAbs);
        assertTrue(worstRel < 0.15, "relative L2 " + worstRel);
        assertTrue(worstAbs > 0, "the FP8 cache rounds something");
        assertTrue(2 * agree >= total, "greedy agreement " + agree + "/" + total);
    }

    @Test void calibrationGivesAmaxOver448AndNeverSaturatesItsPrompts() {
        String model = "llama-tiny";
        DecoderRunner f32 = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        long[] prompt = {3, 1, 4, 1, 5, 9, 2, 6};
        KvCacheFormat fmt = KvCalibration.calibrate(f32, List.of(prompt));
        PagedKvCache c = f32.newCache(4, 4);
        f32.step(List.of(new DecoderRunner.Row("p", prompt)), c);
        for (int l = 0; l < f32.config().layers(); l++) {
            float kmax = 0, vmax = 0;
            for (float x : c.keys(l)) kmax = Math.max(kmax, Math.abs(x));
            for (float x : c.values(l)) vmax = Math.max(vmax, Math.abs(x));
            assertEquals(kmax / 448f, fmt.keyScale(l), "layer " + l + " K");
            assertEquals(vmax / 448f, fmt.valueScale(l), "layer " + l + " V");
            assertTrue(Math.abs(kmax / fmt.keyScale(l)) <= Float8E4M3.MAX);
        }
        assertTrue(fmt.describe().startsWith("fp8 e4m3 (per-layer K scales ["), fmt.describe());
    }

    @Test void refusals() {
        String model = "llama-tiny";
        DecoderRunner f32 = new DecoderRunner(model, Zoo.decoder(model, 0), SEED);
        DecoderRunner q = f32.withKvCache(KvCacheFormat.fp8(2, 0.05f));
        var e = assertThrows(IllegalArgumentException.class, () -> q.step(List.of(new DecoderRunner.Row("s", new long[] {1})), f32.newCache(4, 4)));
        assertTrue(e.getMessage().contains("make the cache with newCache"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> f32.withKvCache(KvCacheFormat.fp8(3, 0.05f)));
        assertTrue(e.getMessage().contains("scales for 3 layers, and llama-tiny has 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KvCacheFormat.fp8(new float[] {1f, 0f}, new float[] {1f, 1f}));
        assertTrue(e.getMessage().contains("layer 1's K scale"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KvCalibration.calibrate(f32, List.of()));
        assertTrue(e.getMessage().contains("at least one prompt"), e.getMessage());
    }
}
