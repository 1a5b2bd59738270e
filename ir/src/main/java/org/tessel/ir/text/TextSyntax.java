package org.tessel.ir.text;

import java.util.Locale;
import org.tessel.api.DType;
import org.tessel.api.Tensor;

/**
 * Lexical conventions shared by the printer and the parser: which names may appear bare, string
 * escapes, number spelling, and the content hash written into elided constants. Keeping them in
 * one place is what makes {@code parse(print(g))} exact.
 */
final class TextSyntax {
    private TextSyntax() {}

    static final int CANONICAL_NAN_F32 = Float.floatToRawIntBits(Float.NaN);
    static final long CANONICAL_NAN_F64 = Double.doubleToRawLongBits(Double.NaN);

    /** Characters of a bare {@code %name} / {@code @name}. */
    static boolean isNameChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '_' || c == '.' || c == '$' || c == ':' || c == '/' || c == '-';
    }

    /**
     * A name may be written bare when it is non-empty, uses only name characters, and has colons
     * only in runs of two or more that are followed by another character ({@code onnx::Add_5}).
     * The colon rule keeps {@code %x: f32[2]} and {@code %x:f32[2]} reading as name, then ':'.
     */
    static boolean isBareName(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) if (!isNameChar(s.charAt(i))) return false;
        return bareNameLength(s, 0) == s.length();
    }

    /** How many characters from {@code start} a bare name takes (0 when none). */
    static int bareNameLength(CharSequence src, int start) {
        int i = start;
        while (i < src.length() && isNameChar(src.charAt(i))) {
            if (src.charAt(i) != ':') { i++; continue; }
            int run = i;
            while (run < src.length() && src.charAt(run) == ':') run++;
            if (run - i < 2 || run >= src.length() || !isNameChar(src.charAt(run))) break;
            i = run;
        }
        return i - start;
    }

    static boolean isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

    static boolean isIdentChar(char c) { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '.'; }

    /** Words the lexer reads as identifiers but that mean something in a value position. */
    private static boolean isReservedWord(String s) {
        return s.equals("nan") || s.equals("inf") || s.equals("true") || s.equals("false");
    }

    /** Attribute names and op names: a bare identifier when possible, a quoted string otherwise. */
    static boolean isBareIdent(String s) {
        if (s.isEmpty() || !isIdentStart(s.charAt(0)) || isReservedWord(s)) return false;
        for (int i = 1; i < s.length(); i++) if (!isIdentChar(s.charAt(i))) return false;
        return true;
    }

    static String sigilName(char sigil, String name) {
        return isBareName(name) ? sigil + name : sigil + quote(name);
    }

    static String identOrQuoted(String s) { return isBareIdent(s) ? s : quote(s); }

    /** A double-quoted string with \" \\ \n \t \r escapes and \\uXXXX for other control characters and surrogates. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    // surrogates are escaped so the text survives a round trip through UTF-8 even when unpaired
                    if (c < 0x20 || c == 0x7f || Character.isSurrogate(c)) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }

    /** Float spelling: Float.toString (always has '.' or an exponent), nan, inf, -inf, nan(0xBITS) for NaN payloads. */
    static void appendFloat(StringBuilder sb, float v) {
        if (Float.isNaN(v)) {
            int bits = Float.floatToRawIntBits(v);
            if (bits == CANONICAL_NAN_F32) sb.append("nan");
            else sb.append("nan(0x").append(String.format(Locale.ROOT, "%08x", bits)).append(')');
        } else if (v == Float.POSITIVE_INFINITY) sb.append("inf");
        else if (v == Float.NEGATIVE_INFINITY) sb.append("-inf");
        else sb.append(Float.toString(v));
    }

    static void appendDouble(StringBuilder sb, double v) {
        if (Double.isNaN(v)) {
            long bits = Double.doubleToRawLongBits(v);
            if (bits == CANONICAL_NAN_F64) sb.append("nan");
            else sb.append("nan(0x").append(String.format(Locale.ROOT, "%016x", bits)).append(')');
        } else if (v == Double.POSITIVE_INFINITY) sb.append("inf");
        else if (v == Double.NEGATIVE_INFINITY) sb.append("-inf");
        else sb.append(Double.toString(v));
    }

    /** Appends element i of t in the dense-literal spelling of its dtype. */
    static void appendElement(StringBuilder sb, Tensor t, int i) {
        switch (t.dtype().storage()) {
            case FLOAT -> appendFloat(sb, t.floats()[i]);
            case DOUBLE -> appendDouble(sb, t.doubles()[i]);
            case LONG -> {
                long v = t.longs()[i];
                if (t.dtype() == DType.BOOL) sb.append(v != 0 ? "true" : "false");
                else sb.append(v);
            }
        }
    }

    /** Bitwise equality of two elements of the same tensor (so -0.0 differs from 0.0, NaN payloads count). */
    static boolean sameBits(Tensor t, int i, int j) {
        return switch (t.dtype().storage()) {
            case FLOAT -> Float.floatToRawIntBits(t.floats()[i]) == Float.floatToRawIntBits(t.floats()[j]);
            case DOUBLE -> Double.doubleToRawLongBits(t.doubles()[i]) == Double.doubleToRawLongBits(t.doubles()[j]);
            case LONG -> t.longs()[i] == t.longs()[j];
        };
    }

    static long elementBits(Tensor t, int i) {
        return switch (t.dtype().storage()) {
            case FLOAT -> Float.floatToRawIntBits(t.floats()[i]) & 0xFFFFFFFFL;
            case DOUBLE -> Double.doubleToRawLongBits(t.doubles()[i]);
            case LONG -> t.longs()[i];
        };
    }

    /**
     * 64-bit FNV-1a over dtype, shape and the raw bits of every element. Written into
     * {@code dense_elided<...>} so that a resolver handing back a different tensor is caught.
     */
    static long contentHash(Tensor t) {
        long h = 0xcbf29ce484222325L;
        h = mix(h, t.dtype().ordinal());
        h = mix(h, t.rank());
        for (int d : t.shape().dims()) h = mix(h, d);
        int n = t.size();
        for (int i = 0; i < n; i++) h = mix(h, elementBits(t, i));
        return h;
    }

    private static long mix(long h, long v) {
        for (int b = 0; b < 8; b++) {
            h ^= (v >>> (8 * b)) & 0xFF;
            h *= 0x100000001b3L;
        }
        return h;
    }

    static String hashText(long h) { return String.format(Locale.ROOT, "0x%016x", h); }
}
