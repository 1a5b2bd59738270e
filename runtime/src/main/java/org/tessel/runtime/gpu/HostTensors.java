package org.tessel.runtime.gpu;

import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * Moves tensors between the host and device memory: f32 as floats, f16 and bf16 as their 16-bit
 * patterns (a tensor's values are already rounded to its type, so the conversion is exact). Also
 * converts logical (channels-first) data to and from channels-last order for NHWC buffers.
 */
public final class HostTensors {
    private HostTensors() {}

    /** Device bytes a tensor of this type and size occupies. */
    public static long bytes(DType t, long elements) {
        CudaTypes.require(t, "device tensor");
        return elements * t.bytes();
    }

    /** The tensor's values as {@code storage} (f32, f16 or bf16) in a new device buffer. */
    public static DeviceBuffer upload(Tensor t, DType storage) {
        CudaTypes.require(storage, "upload");
        float[] v = t.dtype().storage() == DType.Storage.FLOAT ? t.floats() : toFloats(t);
        return switch (storage) {
            case F32 -> DeviceBuffer.ofFloats(v);
            case F16 -> DeviceBuffer.ofShorts(toF16(v));
            case BF16 -> DeviceBuffer.ofShorts(toBf16(v));
            default -> throw new IllegalArgumentException("cannot upload as " + storage.text());
        };
    }

    public static DeviceBuffer upload(Tensor t) { return upload(t, t.dtype()); }

    /** An i8 or u8 tensor (quantized codes, zero points) as its bytes, one an element, in a new device buffer. */
    public static DeviceBuffer uploadBytes(Tensor t) {
        if (t.dtype() != DType.I8 && t.dtype() != DType.U8) throw new IllegalArgumentException("uploads i8 or u8 tensors as bytes, got " + t.dtype().text());
        long[] l = t.longs();
        byte[] b = new byte[l.length];
        for (int i = 0; i < l.length; i++) b[i] = (byte) l[i];
        return DeviceBuffer.ofBytes(b);
    }

    /** Copies the tensor's values, as {@code storage} (f32, f16 or bf16), into an existing device buffer of that size. */
    public static void copyInto(DeviceBuffer b, Tensor t, DType storage) {
        float[] v = t.dtype().storage() == DType.Storage.FLOAT ? t.floats() : toFloats(t);
        switch (storage) {
            case F32 -> b.copyFrom(v);
            case F16 -> b.copyFrom(toF16(v));
            case BF16 -> b.copyFrom(toBf16(v));
            default -> throw new IllegalArgumentException("cannot copy into a device buffer as " + storage.text());
        }
    }

    /** Reads a device buffer holding {@code shape} elements of {@code dtype} into a tensor of that type. */
    public static Tensor download(DeviceBuffer b, DType dtype, Shape shape) {
        int n = Math.toIntExact(shape.numElements());
        float[] v = new float[n];
        switch (dtype) {
            case F32 -> b.copyTo(v);
            case F16 -> { short[] s = new short[n]; b.copyTo(s); for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(s[i]); }
            case BF16 -> { short[] s = new short[n]; b.copyTo(s); for (int i = 0; i < n; i++) v[i] = Float.intBitsToFloat((s[i] & 0xFFFF) << 16); }
            default -> throw new IllegalArgumentException("cannot download " + dtype.text());
        }
        return Tensor.ofFloats(dtype, shape, v);
    }

    /** A tensor's values as floats, whatever its element type. */
    public static float[] toFloats(Tensor t) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = t.getFloat(i);
        return v;
    }

    public static short[] toF16(float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) s[i] = Float.floatToFloat16(v[i]);
        return s;
    }

    public static short[] toBf16(float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) s[i] = (short) (Float.floatToRawIntBits(Tensor.roundBf16(v[i])) >>> 16);
        return s;
    }

    /** Logical [N, C, spatial...] data reordered to [N, spatial..., C] (same shape object, new data). */
    public static Tensor toChannelsLast(Tensor t) {
        int[] d = t.shape().dims();
        if (d.length < 3) throw new IllegalArgumentException("channels-last needs rank >= 3, got " + t.shape());
        int n = d[0], c = d[1], sp = t.size() / Math.max(1, n * c);
        float[] src = t.floats(), dst = new float[src.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int s = 0; s < sp; s++) dst[(b * sp + s) * c + ch] = src[(b * c + ch) * sp + s];
        return Tensor.ofFloats(t.dtype(), t.shape(), dst);
    }

    /** Channels-last data of a logical [N, C, spatial...] shape back to logical order. */
    public static Tensor fromChannelsLast(Tensor t) {
        int[] d = t.shape().dims();
        if (d.length < 3) throw new IllegalArgumentException("channels-last needs rank >= 3, got " + t.shape());
        int n = d[0], c = d[1], sp = t.size() / Math.max(1, n * c);
        float[] src = t.floats(), dst = new float[src.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int s = 0; s < sp; s++) dst[(b * c + ch) * sp + s] = src[(b * sp + s) * c + ch];
        return Tensor.ofFloats(t.dtype(), t.shape(), dst);
    }
}
