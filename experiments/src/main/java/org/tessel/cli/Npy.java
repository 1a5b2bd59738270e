package org.tessel.cli;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.onnx.OnnxImportException;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;

/**
 * numpy's {@code .npy} format (NEP 1): the magic {@code \x93NUMPY}, a version, a header length
 * (2 bytes in version 1.0, 4 in 2.0 and 3.0), a Python dict literal
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded with spaces to a
 * 64-byte boundary and ended by a newline, then the elements in C order. Reads versions 1.0 to 3.0
 * in either byte order; writes version 1.0, little-endian, byte for byte as {@code numpy.save}
 * does (including the spaces numpy leaves for growing the first axis). Element types: f32, f16,
 * f64, i64, i32, i8, u8 and bool; numpy has no bf16.
 */
final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy's header alignment, and the digits it reserves for the first axis to grow. */
    private static final int ALIGN = 64, GROWTH_DIGITS = 21;
    private static final Map<DType, String> DESCR = Map.of(DType.F32, "f4", DType.F16, "f2", DType.F64, "f8", DType.I64, "i8",
            DType.I32, "i4", DType.I8, "i1", DType.U8, "u1", DType.BOOL, "b1");

    static Tensor read(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        String name = file.toString();
        if (b.length < 10 || !java.util.Arrays.equals(b, 0, 6, MAGIC, 0, 6))
            throw new IllegalArgumentException(name + ": not an .npy file (it does not start with numpy's magic \\x93NUMPY)");
        int major = b[6] & 0xFF;
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen, start;
        if (major == 1) { headerLen = bb.getShort(8) & 0xFFFF; start = 10; }
        else if (major == 2 || major == 3) {
            if (b.length < 12) throw new IllegalArgumentException(name + ": truncated .npy header");
            headerLen = bb.getInt(8);
            start = 12;
        } else throw new IllegalArgumentException(name + ": .npy format version " + major + "." + (b[7] & 0xFF) + " is not one numpy writes (1.0, 2.0, 3.0)");
        if (headerLen < 0 || start + (long) headerLen > b.length) throw new IllegalArgumentException(name + ": truncated .npy header (" + headerLen + " bytes announced)");
        String header = new String(b, start, headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        String descr = field(header, "descr", "'([^']*)'|\"([^\"]*)\"", name);
        String fortran = field(header, "fortran_order", "(True|False)", name);
        String shapeText = field(header, "shape", "\\(([^)]*)\\)", name);
        if (fortran.equals("True"))
            throw new IllegalArgumentException(name + ": the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray) to read it here");
        if (descr.length() < 3) throw new IllegalArgumentException(name + ": element type '" + descr + "' is not a numpy type string like '<f4'");
        char order = descr.charAt(0);
        DType dtype = DESCR.entrySet().stream().filter(e -> e.getValue().equals(descr.substring(1))).map(Map.Entry::getKey).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(name + ": element type '" + descr + "' is not supported (f4, f2, f8, i8, i4, i1, u1, b1)"));
        if ("<>|=".indexOf(order) < 0) throw new IllegalArgumentException(name + ": element type '" + descr + "' has no byte order ('<', '>', '|' or '=')");
        TensorProto.Builder p = TensorProto.newBuilder().setDataType(dtype.onnxCode());
        long n = 1;
        for (String d : shapeText.split(",")) {
            if (d.isBlank()) continue;
            long v;
            try {
                v = Long.parseLong(d.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + ": shape (" + shapeText + ") is not a tuple of integers");
            }
            p.addDims(v);
            n *= Math.max(v, 0);
        }
        int dataStart = start + headerLen;
        long want = n * dtype.bytes();
        if (b.length - dataStart != want)
            throw new IllegalArgumentException(name + ": " + (b.length - dataStart) + " data bytes, shape (" + shapeText.strip() + ") of " + descr + " needs " + want);
        byte[] data = java.util.Arrays.copyOfRange(b, dataStart, b.length);
        if (order == '>' && dtype.bytes() > 1) {
            for (int i = 0; i < data.length; i += dtype.bytes())
                for (int lo = i, hi = i + dtype.bytes() - 1; lo < hi; lo++, hi--) { byte t = data[lo]; data[lo] = data[hi]; data[hi] = t; }
        }
        try {
            return OnnxTensors.fromProto(p.setRawData(ByteString.copyFrom(data)).build(), name);
        } catch (OnnxImportException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    private static String field(String header, String key, String valueRegex, String file) {
        Matcher m = Pattern.compile("['\"]" + key + "['\"]\\s*:\\s*(?:" + valueRegex + ")").matcher(header);
        if (!m.find()) throw new IllegalArgumentException(file + ": the .npy header has no '" + key + "' (header: " + header.strip() + ")");
        for (int g = 1; g <= m.groupCount(); g++) if (m.group(g) != null) return m.group(g);
        return "";
    }

    /** The whole file numpy.save would write for t. */
    static byte[] bytes(Tensor t) {
        String code = DESCR.get(t.dtype());
        if (code == null) throw new IllegalArgumentException("numpy has no " + t.dtype().text() + " type; save this tensor as .pb (ONNX TensorProto) instead");
        String descr = (t.dtype().bytes() == 1 ? "|" : "<") + code;
        int[] dims = t.shape().dims();
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) shape.append(dims[i]).append(dims.length == 1 ? "," : i + 1 < dims.length ? ", " : "");
        shape.append(')');
        StringBuilder h = new StringBuilder("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }");
        if (dims.length > 0) h.append(" ".repeat(GROWTH_DIGITS - String.valueOf(dims[0]).length()));
        int pad = ALIGN - (MAGIC.length + 4 + h.length() + 1) % ALIGN; // 64 when already aligned, as numpy does
        h.append(" ".repeat(pad)).append('\n');
        byte[] header = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] data = OnnxTensors.toProto(t, "").getRawData().toByteArray();
        ByteBuffer out = ByteBuffer.allocate(MAGIC.length + 4 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length).put(header).put(data);
        return out.array();
    }

    static void write(Path file, Tensor t) throws IOException { Files.write(file, bytes(t)); }
}
