package org.tessel.runtime.gpu;

import org.tessel.api.DType;

/**
 * How Tessel's floating element types live in device memory and in generated CUDA C: f32 as
 * {@code float}, f16 and bf16 as 16-bit words converted through the prelude's PTX conversions.
 */
public final class CudaTypes {
    private CudaTypes() {}

    /** Whether Tessel's GPU kernels handle this element type. */
    public static boolean supported(DType t) { return t == DType.F32 || t == DType.F16 || t == DType.BF16; }

    public static void require(DType t, String where) {
        if (!supported(t)) throw new IllegalArgumentException(where + ": GPU kernels take f32, f16 or bf16, got " + t.text());
    }

    /** The C storage type. */
    public static String storage(DType t) {
        return switch (t) {
            case F32 -> "float";
            case F16, BF16 -> "unsigned short";
            default -> throw new IllegalArgumentException("no GPU storage for " + t.text());
        };
    }

    /** A C expression loading element {@code index} of {@code ptr} as a float. */
    public static String load(DType t, String ptr, String index) {
        return switch (t) {
            case F32 -> ptr + "[" + index + "]";
            case F16 -> "tessel_h2f(" + ptr + "[" + index + "])";
            case BF16 -> "tessel_bf2f(" + ptr + "[" + index + "])";
            default -> throw new IllegalArgumentException("no GPU storage for " + t.text());
        };
    }

    /** A C expression converting float expression {@code value} to the storage type. */
    public static String store(DType t, String value) {
        return switch (t) {
            case F32 -> value;
            case F16 -> "tessel_f2h(" + value + ")";
            case BF16 -> "tessel_f2bf(" + value + ")";
            default -> throw new IllegalArgumentException("no GPU storage for " + t.text());
        };
    }

    /** A C expression rounding float expression {@code value} to the type's precision (identity for f32). */
    public static String round(DType t, String value) {
        return switch (t) {
            case F32 -> value;
            case F16 -> "tessel_round_f16(" + value + ")";
            case BF16 -> "tessel_round_bf16(" + value + ")";
            default -> throw new IllegalArgumentException("no GPU storage for " + t.text());
        };
    }

    /**
     * Definitions giving a kernel template its element type under a short name:
     * {@code typedef <storage> NAME; #define LD_NAME(p,i) ...; #define ST_NAME(p,i,v) ...}.
     */
    public static String typedefs(String name, DType t) {
        return "typedef " + storage(t) + " " + name + ";\n"
                + "#define LD_" + name + "(p, i) (" + load(t, "(p)", "i") + ")\n"
                + "#define ST_" + name + "(p, i, v) ((p)[i] = " + store(t, "(v)") + ")\n";
    }
}
