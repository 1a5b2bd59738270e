package org.tessel.ir.zoo;

import java.util.Arrays;
import java.util.Locale;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;

/**
 * How a decoder's KV cache stores keys and values: in the model's own float type ({@link #NATIVE}: f32 on the CPU,
 * the engine's f16 or bf16 on the GPU), or as FP8 E4M3 codes ({@link #fp8}) with one f32 scale per layer for K and
 * one for V (TensorRT-LLM's {@code kv_cache_scaling_factor}: per tensor). A stored key is
 * {@code e4m3(k / keyScale[layer])} (an f32 division, rounded to nearest even, saturating at +-448, as
 * {@link Float8E4M3#toBits}), read back as {@code code * keyScale[layer]} (one f32 multiply); attention reads every
 * token's keys and values, the step's own new ones included, in that stored form.
 *
 * <p>Per layer rather than per KV head: one scalar per kernel launch, as TensorRT-LLM calibrates it; a
 * calibration pass (amax / 448 over a few prompts) or a user's fixed scale both give it. The format is part of the
 * step graphs (a paged graph's pools are typed {@code f8e4m3}, a contiguous graph rounds its new keys and values
 * through QuantizeLinear/DequantizeLinear), so it is a plan decision, never a runtime switch.
 */
public record KvCacheFormat(DType dtype, float[] keyScales, float[] valueScales) {
    /** Keys and values kept in the model's float type. */
    public static final KvCacheFormat NATIVE = new KvCacheFormat(null, null, null);

    public KvCacheFormat {
        if (dtype == null) {
            if (keyScales != null || valueScales != null) throw new IllegalArgumentException("a native KV cache has no scales");
        } else {
            if (dtype != DType.F8E4M3) throw new IllegalArgumentException("a KV cache stores its model's float type or f8e4m3, not " + dtype.text());
            if (keyScales == null || valueScales == null || keyScales.length != valueScales.length || keyScales.length == 0)
                throw new IllegalArgumentException("an f8e4m3 KV cache needs one K and one V scale per layer, got " + (keyScales == null ? "none" : keyScales.length)
                        + " and " + (valueScales == null ? "none" : valueScales.length));
            keyScales = keyScales.clone();
            valueScales = valueScales.clone();
            for (int l = 0; l < keyScales.length; l++) {
                check(keyScales[l], "K", l);
                check(valueScales[l], "V", l);
            }
        }
    }

    private static void check(float s, String what, int layer) {
        if (!(s > 0) || !Float.isFinite(s) || Float.MIN_NORMAL > s)
            throw new IllegalArgumentException("layer " + layer + "'s " + what + " scale of the f8e4m3 KV cache must be a positive normal f32, got " + s);
    }

    /** FP8 E4M3 storage with these per-layer scales. */
    public static KvCacheFormat fp8(float[] keyScales, float[] valueScales) { return new KvCacheFormat(DType.F8E4M3, keyScales, valueScales); }

    /** FP8 E4M3 storage with one fixed scale for K and V of every layer. */
    public static KvCacheFormat fp8(int layers, float scale) {
        float[] s = new float[layers];
        Arrays.fill(s, scale);
        return fp8(s, s);
    }

    public boolean quantized() { return dtype != null; }

    public float keyScale(int layer) { return keyScales[layer]; }

    public float valueScale(int layer) { return valueScales[layer]; }

    /** Checks the format against a model of {@code layers} layers. */
    public void checkLayers(int layers, String model) {
        if (quantized() && keyScales.length != layers)
            throw new IllegalArgumentException("the f8e4m3 KV cache has scales for " + keyScales.length + " layers, and " + model + " has " + layers);
    }

    /** The stored code of x at scale s: e4m3(x / s), saturating. */
    public static int quantize(float x, float s) { return Float8E4M3.toBits(x / s, true); }

    /** The value a code stands for at scale s: code * s. */
    public static float dequantize(int code, float s) { return Float8E4M3.toFloat(code & 0xff) * s; }

    /** Bytes one key or value element takes in the cache ({@code nativeBytes} when not quantized). */
    public int elementBytes(int nativeBytes) { return quantized() ? 1 : nativeBytes; }

    /** "native" or "fp8 (K scales [...], V scales [...])". */
    public String describe() {
        if (!quantized()) return "native";
        return "fp8 e4m3 (per-layer K scales " + fmt(keyScales) + ", V scales " + fmt(valueScales) + ")";
    }

    private static String fmt(float[] s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) b.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.4g", s[i]));
        return b.append(']').toString();
    }

    @Override public boolean equals(Object o) {
        return o instanceof KvCacheFormat f && dtype == f.dtype && Arrays.equals(keyScales, f.keyScales) && Arrays.equals(valueScales, f.valueScales);
    }

    @Override public int hashCode() { return 31 * (31 * java.util.Objects.hashCode(dtype) + Arrays.hashCode(keyScales)) + Arrays.hashCode(valueScales); }

    @Override public String toString() { return describe(); }
}
