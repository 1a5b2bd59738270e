package org.tessel.api;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types a tensor can hold. The text form uses {@link #text()} ("f32", "i8"...), ONNX uses
 * {@link #onnxCode()}. Floating types narrower than f32 are stored widened and rounded on every
 * store, so the reference interpreter sees exactly the values the narrow type can represent.
 */
public enum DType {
    F32("f32", 4, 1), F16("f16", 2, 10), BF16("bf16", 2, 16), F64("f64", 8, 11),
    I8("i8", 1, 3), U8("u8", 1, 2), I32("i32", 4, 6), I64("i64", 8, 7), BOOL("bool", 1, 9),
    /** ONNX's FLOAT8E4M3FN (opset 19+): 1 sign, 4 exponent, 3 mantissa bits, max 448, no infinities; see {@link Float8E4M3}. */
    F8E4M3("f8e4m3", 1, 17),
    /** ONNX's FLOAT8E5M2 (opset 19+): 1 sign, 5 exponent, 2 mantissa bits, max 57344, with infinities; see {@link Float8E5M2}. */
    F8E5M2("f8e5m2", 1, 19),
    /** ONNX's FLOAT8E4M3FNUZ and FLOAT8E5M2FNUZ: no infinities, no -0, NaN 0x80; see {@link Float8Fnuz}. */
    F8E4M3FNUZ("f8e4m3fnuz", 1, 18), F8E5M2FNUZ("f8e5m2fnuz", 1, 20);

    private final String text;
    private final int bytes;
    private final int onnxCode;

    DType(String text, int bytes, int onnxCode) {
        this.text = text;
        this.bytes = bytes;
        this.onnxCode = onnxCode;
    }

    public String text() { return text; }
    public int bytes() { return bytes; }
    public int onnxCode() { return onnxCode; }

    public boolean isFloating() { return this == F32 || this == F16 || this == BF16 || this == F64 || isFloat8(); }

    /** The 8-bit floats: f8e4m3, f8e5m2 and their fnuz variants. */
    public boolean isFloat8() { return this == F8E4M3 || this == F8E5M2 || this == F8E4M3FNUZ || this == F8E5M2FNUZ; }

    /** The 8-bit code of {@code v} in this float8 type, rounded to nearest even, saturating or not (ONNX's {@code saturate}). */
    public int float8Bits(float v, boolean saturate) {
        return switch (this) {
            case F8E4M3 -> Float8E4M3.toBits(v, saturate);
            case F8E5M2 -> Float8E5M2.toBits(v, saturate);
            case F8E4M3FNUZ -> Float8Fnuz.E4M3FNUZ.toBits(v, saturate);
            case F8E5M2FNUZ -> Float8Fnuz.E5M2FNUZ.toBits(v, saturate);
            default -> throw new IllegalArgumentException(text + " is not a float8 type");
        };
    }

    /** The value of an 8-bit code (its low 8 bits) of this float8 type. */
    public float float8Value(int bits) {
        return switch (this) {
            case F8E4M3 -> Float8E4M3.toFloat(bits);
            case F8E5M2 -> Float8E5M2.toFloat(bits);
            case F8E4M3FNUZ -> Float8Fnuz.E4M3FNUZ.toFloat(bits);
            case F8E5M2FNUZ -> Float8Fnuz.E5M2FNUZ.toFloat(bits);
            default -> throw new IllegalArgumentException(text + " is not a float8 type");
        };
    }

    /** {@code v} rounded to this float8 type as ONNX's Cast with {@code saturate} 1 or 0. */
    public float float8Round(float v, boolean saturate) { return float8Value(float8Bits(v, saturate)); }
    public boolean isInteger() { return this == I8 || this == U8 || this == I32 || this == I64; }
    public boolean isSigned() { return this != U8 && this != BOOL; }

    /** Storage class inside {@link Tensor}: f32/f16/bf16 and the float8 types live in float[], f64 in double[], the rest in long[]. */
    public Storage storage() {
        return switch (this) {
            case F32, F16, BF16, F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> Storage.FLOAT;
            case F64 -> Storage.DOUBLE;
            default -> Storage.LONG;
        };
    }

    public enum Storage { FLOAT, DOUBLE, LONG }

    public static Optional<DType> fromText(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        for (DType d : values()) if (d.text.equals(t)) return Optional.of(d);
        return Optional.empty();
    }

    public static Optional<DType> fromOnnx(int code) {
        for (DType d : values()) if (d.onnxCode == code) return Optional.of(d);
        return Optional.empty();
    }

    /** ONNX's name of a data-type code, for error messages about unsupported types. */
    public static String onnxName(int code) {
        return switch (code) {
            case 0 -> "UNDEFINED"; case 1 -> "FLOAT"; case 2 -> "UINT8"; case 3 -> "INT8"; case 4 -> "UINT16";
            case 5 -> "INT16"; case 6 -> "INT32"; case 7 -> "INT64"; case 8 -> "STRING"; case 9 -> "BOOL";
            case 10 -> "FLOAT16"; case 11 -> "DOUBLE"; case 12 -> "UINT32"; case 13 -> "UINT64";
            case 14 -> "COMPLEX64"; case 15 -> "COMPLEX128"; case 16 -> "BFLOAT16";
            case 17 -> "FLOAT8E4M3FN"; case 18 -> "FLOAT8E4M3FNUZ"; case 19 -> "FLOAT8E5M2"; case 20 -> "FLOAT8E5M2FNUZ"; case 21 -> "UINT4"; case 22 -> "INT4";
            case 23 -> "FLOAT4E2M1"; case 24 -> "FLOAT8E8M0";
            default -> "code " + code;
        };
    }
}
