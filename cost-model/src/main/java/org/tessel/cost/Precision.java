package org.tessel.cost;

import java.util.Locale;
import java.util.Optional;
import org.tessel.api.DType;

/**
 * The precision a node computes in. TF32 stores FP32 and rounds tensor-core inputs to a 10-bit
 * mantissa; INT8 is the quantized tensor-core path (int32 accumulation); FP8 is E4M3 storage with a
 * per-tensor scale like INT8's (x ~ scale * e4m3(x / scale), scale = amax / 448), computed on the FP8
 * tensor cores of sm_89 and later with f32 accumulation. {@link #relativeError()} is the unit
 * roundoff of one operation, for the accuracy budget the search will respect.
 */
public enum Precision {
    FP32(DType.F32, 0x1p-24),
    TF32(DType.F32, 0x1p-11),
    FP16(DType.F16, 0x1p-11),
    BF16(DType.BF16, 0x1p-8),
    /** Half a quantization step relative to the largest representable magnitude (127). */
    INT8(DType.I8, 0.5 / 127),
    /** E4M3's unit roundoff (3 mantissa bits) within its range, at a calibrated per-tensor scale. */
    FP8(DType.F8E4M3, 0x1p-4);

    private final DType storage;
    private final double relativeError;

    Precision(DType storage, double relativeError) {
        this.storage = storage;
        this.relativeError = relativeError;
    }

    /** The element type activations are stored in at this precision. */
    public DType storage() { return storage; }

    /** Rough unit roundoff of one operation at this precision. */
    public double relativeError() { return relativeError; }

    /** True for the precisions whose activations carry a calibrated per-tensor scale (INT8, FP8). */
    public boolean quantized() { return this == INT8 || this == FP8; }

    /**
     * The largest code magnitude a scale maps amax to (scale = amax / this): 127 for INT8 (symmetric
     * int8), 448 for FP8 (E4M3's largest finite value); fails for a precision without scales.
     */
    public double quantizedMax() {
        return switch (this) {
            case INT8 -> 127;
            case FP8 -> 448;
            default -> throw new IllegalArgumentException(text() + " has no quantization scale");
        };
    }

    /** Lower-case name, as configs and reports spell it ("fp16"). */
    public String text() { return name().toLowerCase(Locale.ROOT); }

    /** Parses "fp16", "FP16", "bf16"...; empty when unknown. */
    public static Optional<Precision> fromText(String s) {
        for (Precision p : values()) if (p.name().equalsIgnoreCase(s.trim())) return Optional.of(p);
        return Optional.empty();
    }
}
