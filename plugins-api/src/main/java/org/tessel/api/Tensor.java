package org.tessel.api;

import java.util.Arrays;
import java.util.Objects;

/**
 * A dense, row-major tensor in logical (channels-first) order.
 *
 * <p>Storage follows {@link DType#storage()}: f32, f16, bf16 and f8e4m3 in a float[] (the narrow ones
 * rounded to the nearest representable value, ties to even, on every store; f8e4m3 saturating to
 * +-448 as ONNX's conversions do by default), f64 in a double[], integers
 * and bool in a long[] (wrapped to the type's range on store, bool as 0/1). Kernels may read and
 * write the backing arrays directly for speed; a tensor handed to another op or stored as a
 * constant is treated as immutable by convention.
 */
public final class Tensor {
    private final DType dtype;
    private final Shape shape;
    private final float[] f;
    private final double[] d;
    private final long[] l;

    private Tensor(DType dtype, Shape shape, float[] f, double[] d, long[] l) {
        this.dtype = dtype;
        this.shape = shape;
        this.f = f;
        this.d = d;
        this.l = l;
    }

    private static int checkedSize(Shape shape) {
        long n = shape.numElements();
        if (n > Shape.MAX_ELEMENTS) throw new IllegalArgumentException("tensor of shape " + shape + " has " + n + " elements; at most " + Shape.MAX_ELEMENTS + " are supported");
        return (int) n;
    }

    /** A zero-filled tensor. */
    public static Tensor zeros(DType dtype, Shape shape) {
        int n = checkedSize(shape);
        return switch (dtype.storage()) {
            case FLOAT -> new Tensor(dtype, shape, new float[n], null, null);
            case DOUBLE -> new Tensor(dtype, shape, null, new double[n], null);
            case LONG -> new Tensor(dtype, shape, null, null, new long[n]);
        };
    }

    public static Tensor zeros(TensorType t) { return zeros(t.dtype(), t.shape()); }

    /** Wraps float data (no copy) for f32; for f16/bf16 the values are rounded in place. */
    public static Tensor ofFloats(DType dtype, Shape shape, float[] data) {
        if (dtype.storage() != DType.Storage.FLOAT) throw new IllegalArgumentException(dtype + " is not stored as float");
        checkLength(shape, data.length);
        if (dtype != DType.F32) for (int i = 0; i < data.length; i++) data[i] = round(dtype, data[i]);
        return new Tensor(dtype, shape, data, null, null);
    }

    public static Tensor ofFloats(Shape shape, float... data) { return ofFloats(DType.F32, shape, data); }

    public static Tensor ofDoubles(Shape shape, double... data) {
        checkLength(shape, data.length);
        return new Tensor(DType.F64, shape, null, data, null);
    }

    /** Wraps integer/bool data (no copy); values are normalized to the type's range in place. */
    public static Tensor ofLongs(DType dtype, Shape shape, long... data) {
        if (dtype.storage() != DType.Storage.LONG) throw new IllegalArgumentException(dtype + " is not stored as long");
        checkLength(shape, data.length);
        for (int i = 0; i < data.length; i++) data[i] = wrap(dtype, data[i]);
        return new Tensor(dtype, shape, null, null, data);
    }

    public static Tensor scalar(DType dtype, double v) {
        Tensor t = zeros(dtype, Shape.scalar());
        t.setDouble(0, v);
        return t;
    }

    /** A tensor of the given type filled with v (converted as {@link #setDouble} does). */
    public static Tensor full(DType dtype, Shape shape, double v) {
        Tensor t = zeros(dtype, shape);
        if (v != 0) for (int i = 0; i < t.size(); i++) t.setDouble(i, v);
        return t;
    }

    private static void checkLength(Shape shape, int len) {
        if (shape.numElements() != len) throw new IllegalArgumentException("shape " + shape + " needs " + shape.numElements() + " elements, got " + len);
    }

    public DType dtype() { return dtype; }
    public Shape shape() { return shape; }
    public TensorType type() { return TensorType.of(dtype, shape); }
    public int rank() { return shape.rank(); }
    public int size() { return f != null ? f.length : d != null ? d.length : l.length; }

    /** Backing array of an f32/f16/bf16 tensor. Writers must store already-rounded values for f16/bf16. */
    public float[] floats() {
        if (f == null) throw new IllegalStateException("tensor of " + dtype + " has no float storage");
        return f;
    }

    public double[] doubles() {
        if (d == null) throw new IllegalStateException("tensor of " + dtype + " has no double storage");
        return d;
    }

    public long[] longs() {
        if (l == null) throw new IllegalStateException("tensor of " + dtype + " has no long storage");
        return l;
    }

    public double getDouble(int i) { return f != null ? f[i] : d != null ? d[i] : l[i]; }

    public float getFloat(int i) { return f != null ? f[i] : d != null ? (float) d[i] : (float) l[i]; }

    /** Integer view: floating values are truncated toward zero (C cast semantics). */
    public long getLong(int i) { return l != null ? l[i] : f != null ? (long) f[i] : (long) d[i]; }

    public boolean getBool(int i) { return getDouble(i) != 0; }

    /** Stores v converted to this tensor's type: rounded for f16/bf16, truncated and wrapped for integers. */
    public void setDouble(int i, double v) {
        if (f != null) f[i] = round(dtype, (float) v);
        else if (d != null) d[i] = v;
        else l[i] = dtype == DType.BOOL ? (v != 0 ? 1 : 0) : wrap(dtype, toLong(v));
    }

    public void setLong(int i, long v) {
        if (l != null) l[i] = wrap(dtype, v);
        else if (f != null) f[i] = round(dtype, (float) v);
        else d[i] = v;
    }

    private static long toLong(double v) {
        if (Double.isNaN(v)) return 0;
        return (long) v;
    }

    /** Rounds a float to the nearest value of a float storage type. */
    public static float round(DType t, float v) {
        return switch (t) {
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            case BF16 -> roundBf16(v);
            case F8E4M3 -> Float8E4M3.round(v);
            // as f16: E5M2 has infinities, so a store rounds past the range to infinity (Cast's saturate=1 clamps explicitly)
            case F8E5M2 -> Float8E5M2.roundNoSaturate(v);
            case F8E4M3FNUZ -> Float8Fnuz.E4M3FNUZ.round(v);
            case F8E5M2FNUZ -> Float8Fnuz.E5M2FNUZ.round(v);
            default -> v;
        };
    }

    /** Round-to-nearest-even to bfloat16 (the top 16 bits of an f32). */
    public static float roundBf16(float v) {
        if (Float.isNaN(v)) return v;
        int bits = Float.floatToRawIntBits(v);
        int lsb = (bits >>> 16) & 1;
        bits += 0x7FFF + lsb;
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }

    /** Wraps an integer into the two's-complement range of an integer type (C cast semantics). */
    public static long wrap(DType t, long v) {
        return switch (t) {
            case I8 -> (byte) v;
            case U8 -> v & 0xFF;
            case I32 -> (int) v;
            case BOOL -> v != 0 ? 1 : 0;
            default -> v;
        };
    }

    /** Same dtype and shape, sharing the data. */
    public Tensor reshape(Shape newShape) {
        if (newShape.numElements() != shape.numElements())
            throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
        return new Tensor(dtype, newShape, f, d, l);
    }

    public Tensor copy() {
        return new Tensor(dtype, shape, f == null ? null : f.clone(), d == null ? null : d.clone(), l == null ? null : l.clone());
    }

    /** Converts to another type element by element (floats to integers truncate toward zero). */
    public Tensor cast(DType to) {
        if (to == dtype) return copy();
        Tensor out = zeros(to, shape);
        int n = size();
        if (l != null) for (int i = 0; i < n; i++) out.setLong(i, l[i]);
        else if (to == DType.BOOL) for (int i = 0; i < n; i++) out.l[i] = getDouble(i) != 0 ? 1 : 0;
        else for (int i = 0; i < n; i++) out.setDouble(i, getDouble(i));
        return out;
    }

    /**
     * The relative L2 distance of {@code got} from {@code want}: ||got - want|| / ||want|| over every element (0 when both
     * are equal, infinite when {@code want} is all zeros and {@code got} is not). Throws when the element counts differ.
     */
    public static double relativeL2(Tensor want, Tensor got) {
        if (want.size() != got.size()) throw new IllegalArgumentException("relative L2 of tensors of " + want.size() + " and " + got.size() + " elements");
        double diff = 0, norm = 0;
        for (int i = 0; i < want.size(); i++) {
            double w = want.getDouble(i), d = got.getDouble(i) - w;
            diff += d * d;
            norm += w * w;
        }
        return diff == 0 ? 0 : norm == 0 ? Double.POSITIVE_INFINITY : Math.sqrt(diff / norm);
    }

    /** Exact equality of type, shape and every element (NaN equals NaN). */
    public boolean dataEquals(Tensor o) {
        if (dtype != o.dtype || !shape.equals(o.shape)) return false;
        if (f != null) return Arrays.equals(f, o.f);
        if (d != null) return Arrays.equals(d, o.d);
        return Arrays.equals(l, o.l);
    }

    /** A stable hash of type, shape and content, for CSE and caches. */
    public int contentHash() {
        int h = Objects.hash(dtype, shape);
        return 31 * h + (f != null ? Arrays.hashCode(f) : d != null ? Arrays.hashCode(d) : Arrays.hashCode(l));
    }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder("Tensor(").append(dtype.text()).append(shape).append(" [");
        int n = Math.min(size(), 8);
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append(", ");
            if (l != null) sb.append(l[i]); else sb.append(getDouble(i));
        }
        if (size() > n) sb.append(", ...");
        return sb.append("])").toString();
    }
}
