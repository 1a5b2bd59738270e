package org.tessel.runtime.llm;

import java.util.List;
import org.tessel.api.Float8E4M3;
import org.tessel.ir.zoo.KvCacheFormat;

/**
 * Per-layer FP8 KV scales from data, as TensorRT-LLM calibrates {@code kv_cache_scaling_factor}: the prompts run
 * through the model with a native (f32) cache, and each layer's K (and V) scale is the largest |key| (|value|) any
 * prompt stored there over 448, E4M3's largest finite value, so the calibration data never saturates. A layer whose
 * keys were all zero gets scale 1.
 */
public final class KvCalibration {
    private KvCalibration() {}

    /** The FP8 format whose scales are amax / 448 over {@code prompts} fed to {@code runner} (its weights, adapters, quantization). */
    public static KvCacheFormat calibrate(DecoderRunner runner, List<long[]> prompts) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("FP8 KV calibration needs at least one prompt");
        DecoderRunner f32 = runner.withKvCache(KvCacheFormat.NATIVE);
        int layers = runner.config().layers();
        float[] kMax = new float[layers], vMax = new float[layers];
        for (int i = 0; i < prompts.size(); i++) {
            long[] p = prompts.get(i);
            if (p.length > runner.config().maxPositions())
                throw new IllegalArgumentException("calibration prompt " + i + " has " + p.length + " tokens, more than " + runner.model() + "'s " + runner.config().maxPositions() + " positions");
            PagedKvCache cache = f32.newCache(16, (p.length + 15) / 16);
            f32.step(List.of(new DecoderRunner.Row("calib" + i, p)), cache);
            for (int l = 0; l < layers; l++) {
                for (float x : cache.keys(l)) kMax[l] = Math.max(kMax[l], Math.abs(x));
                for (float x : cache.values(l)) vMax[l] = Math.max(vMax[l], Math.abs(x));
            }
        }
        float[] ks = new float[layers], vs = new float[layers];
        for (int l = 0; l < layers; l++) {
            ks[l] = kMax[l] > 0 ? kMax[l] / Float8E4M3.MAX : 1f;
            vs[l] = vMax[l] > 0 ? vMax[l] / Float8E4M3.MAX : 1f;
        }
        return KvCacheFormat.fp8(ks, vs);
    }
}
