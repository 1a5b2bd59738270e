package org.tessel.ir.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;

/**
 * Conversion between ONNX's TensorProto and {@link Tensor}, and the {@code input_i.pb} /
 * {@code output_i.pb} files of ONNX's backend tests (one serialized TensorProto each).
 *
 * <p>Reading accepts both encodings ONNX allows: {@code raw_data} (little-endian, packed) and the
 * typed repeated fields, where 16-bit floats, 8-bit integers and bools travel in
 * {@code int32_data} as bit patterns or widened values. Writing always uses {@code raw_data}.
 */
public final class OnnxTensors {
    private OnnxTensors() {}

    /** Reads a file holding one serialized TensorProto. */
    public static Tensor readTensor(Path file) {
        if (Files.isDirectory(file)) throw new OnnxImportException(Kind.INVALID_MODEL, null, file + " is a folder, not a tensor file");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, file + ": no such file", e);
        } catch (IOException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, file + ": cannot read: " + e.getMessage(), e);
        }
        TensorProto p;
        try {
            p = TensorProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, file.getFileName() + ": not a valid ONNX TensorProto: " + e.getMessage(), e);
        }
        String name = p.getName().isEmpty() ? "tensor" : "tensor '" + p.getName() + "'";
        try {
            return fromProto(p, name);
        } catch (OnnxImportException e) {
            throw e.prefixed(file.getFileName() + ": ");
        }
    }

    /** Writes a tensor as one serialized TensorProto (the backend-test .pb format). */
    public static void writeTensor(Path file, Tensor t, String name) throws IOException {
        org.tessel.ir.io.AtomicFiles.writeBytes(file, toProto(t, name).toByteArray());
    }

    public static void writeTensor(Path file, Tensor t) throws IOException { writeTensor(file, t, ""); }

    /** The element type of an ONNX type code, or an {@link Kind#UNSUPPORTED_DTYPE} error naming ONNX's type. */
    static DType dtype(int code, String what) {
        return DType.fromOnnx(code).orElseThrow(() -> new OnnxImportException(Kind.UNSUPPORTED_DTYPE, DType.onnxName(code),
                what + ": element type " + DType.onnxName(code) + " is not supported (Tessel has "
                        + java.util.Arrays.stream(DType.values()).map(DType::text).toList() + ")"));
    }

    /** A static shape from ONNX dims, refusing negative or absurdly large ones. */
    static Shape shape(List<Long> dims, String what) {
        long[] d = new long[dims.size()];
        long n = 1;
        for (int i = 0; i < d.length; i++) {
            long v = dims.get(i);
            if (v < 0 || v > Integer.MAX_VALUE)
                throw new OnnxImportException(Kind.INVALID_MODEL, null, what + ": dimension " + i + " is " + v + " (must be 0.." + Integer.MAX_VALUE + ") in " + dims);
            d[i] = v;
            n = v == 0 ? 0 : (n > Shape.MAX_ELEMENTS / v ? Shape.MAX_ELEMENTS + 1 : n * v);
        }
        if (n > Shape.MAX_ELEMENTS)
            throw new OnnxImportException(Kind.INVALID_MODEL, null, what + ": shape " + dims + " has more than " + Shape.MAX_ELEMENTS + " elements");
        return Shape.of(d);
    }

    /** Converts a TensorProto; {@code what} names it in errors ("initializer 'w'"). */
    public static Tensor fromProto(TensorProto p, String what) {
        if (p.getDataLocation() == TensorProto.DataLocation.EXTERNAL || p.getExternalDataCount() > 0) {
            String loc = p.getExternalDataList().stream().filter(e -> e.getKey().equals("location")).map(e -> e.getValue()).findFirst().orElse("?");
            throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "external data", what + ": data is stored outside the model (external data file '" + loc
                    + "'), and there is no model folder to read it from here; import the model from its file, which resolves external data beside it");
        }
        if (!p.hasDataType() || p.getDataType() == 0) throw new OnnxImportException(Kind.INVALID_MODEL, null, what + ": has no data type");
        DType dt = dtype(p.getDataType(), what);
        Shape s = shape(p.getDimsList(), what);
        int n = (int) s.numElements();
        Tensor t = Tensor.zeros(dt, s);
        if (p.hasRawData()) {
            ByteString raw = p.getRawData();
            long want = (long) n * dt.bytes();
            if (raw.size() != want)
                throw new OnnxImportException(Kind.INVALID_MODEL, null, what + ": raw_data has " + raw.size() + " bytes, shape " + s + " of " + dt.text() + " needs " + want);
            // slice() so absolute indices start at this string's first byte (a substring shares a larger array)
            ByteBuffer b = raw.asReadOnlyByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN);
            readRaw(b, t);
            return t;
        }
        int have = switch (dt) {
            case F32 -> p.getFloatDataCount();
            case F64 -> p.getDoubleDataCount();
            case I64 -> p.getInt64DataCount();
            default -> p.getInt32DataCount();
        };
        if (have != n) {
            String field = switch (dt) { case F32 -> "float_data"; case F64 -> "double_data"; case I64 -> "int64_data"; default -> "int32_data"; };
            throw new OnnxImportException(Kind.INVALID_MODEL, null, what + ": " + field + " has " + have + " values, shape " + s + " needs " + n);
        }
        switch (dt) {
            case F32 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = p.getFloatData(i); }
            case F16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = Float.float16ToFloat((short) p.getInt32Data(i)); }
            case BF16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = Float.intBitsToFloat(p.getInt32Data(i) << 16); }
            // float8 in int32_data: one code (its 8 bits) per value
            case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = dt.float8Value(p.getInt32Data(i)); }
            case F64 -> { double[] d = t.doubles(); for (int i = 0; i < n; i++) d[i] = p.getDoubleData(i); }
            case I64 -> { long[] l = t.longs(); for (int i = 0; i < n; i++) l[i] = p.getInt64Data(i); }
            default -> { for (int i = 0; i < n; i++) t.setLong(i, p.getInt32Data(i)); }
        }
        return t;
    }

    private static void readRaw(ByteBuffer b, Tensor t) {
        int n = t.size();
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().get(t.floats());
            case F16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = Float.float16ToFloat(b.getShort(2 * i)); }
            case BF16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16); }
            case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> { float[] f = t.floats(); for (int i = 0; i < n; i++) f[i] = t.dtype().float8Value(b.get(i)); }
            case F64 -> b.asDoubleBuffer().get(t.doubles());
            case I64 -> b.asLongBuffer().get(t.longs());
            case I32 -> { long[] l = t.longs(); for (int i = 0; i < n; i++) l[i] = b.getInt(4 * i); }
            case I8 -> { long[] l = t.longs(); for (int i = 0; i < n; i++) l[i] = b.get(i); }
            case U8 -> { long[] l = t.longs(); for (int i = 0; i < n; i++) l[i] = b.get(i) & 0xFF; }
            case BOOL -> { long[] l = t.longs(); for (int i = 0; i < n; i++) l[i] = b.get(i) != 0 ? 1 : 0; }
        }
    }

    /** A TensorProto holding t in raw_data. */
    public static TensorProto toProto(Tensor t, String name) {
        int n = t.size();
        ByteBuffer b = ByteBuffer.allocate(n * t.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().put(t.floats());
            case F16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) b.putShort(2 * i, Float.floatToFloat16(f[i])); }
            case BF16 -> { float[] f = t.floats(); for (int i = 0; i < n; i++) b.putShort(2 * i, (short) (Float.floatToRawIntBits(f[i]) >>> 16)); }
            // the stored values are on the grid; saturate=0 keeps an e5m2 infinity
            case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ -> { float[] f = t.floats(); for (int i = 0; i < n; i++) b.put(i, (byte) t.dtype().float8Bits(f[i], false)); }
            case F64 -> b.asDoubleBuffer().put(t.doubles());
            case I64 -> b.asLongBuffer().put(t.longs());
            case I32 -> { long[] l = t.longs(); for (int i = 0; i < n; i++) b.putInt(4 * i, (int) l[i]); }
            case I8, U8, BOOL -> { long[] l = t.longs(); for (int i = 0; i < n; i++) b.put(i, (byte) l[i]); }
        }
        TensorProto.Builder pb = TensorProto.newBuilder().setDataType(t.dtype().onnxCode());
        for (int d : t.shape().dims()) pb.addDims(d);
        if (name != null && !name.isEmpty()) pb.setName(name);
        return pb.setRawData(ByteString.copyFrom(b.array())).build();
    }
}
