package org.tessel.ir.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Reader and writer of the safetensors format (what PEFT writes adapters in): an unsigned 64-bit
 * little-endian header length, a JSON header mapping each tensor's name to its {@code dtype},
 * {@code shape} and {@code data_offsets} [begin, end) into the byte buffer that follows (plus an
 * optional {@code __metadata__} object of strings), then the buffer of little-endian tensors.
 * Floating tensors (F32, F16, BF16, F64) are read as f32 tensors; the writer writes F32, F16 or
 * BF16 (rounded to nearest even). Every
 * error names the file and, where it applies, the tensor.
 */
public final class SafeTensors {
    private SafeTensors() {}

    /** A file's tensors in header order, and its metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    /** Largest header a reader accepts (the format's own reference reader caps it at 100 MB). */
    static final long MAX_HEADER = 100L << 20;

    public static Contents read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        return read(bytes, file.toString());
    }

    static Contents read(byte[] bytes, String source) {
        if (bytes.length < 8) throw new IllegalArgumentException(source + ": not a safetensors file: " + bytes.length + " bytes, shorter than the 8-byte header length");
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = buf.getLong(0);
        if (n < 2 || n > MAX_HEADER || 8 + n > bytes.length)
            throw new IllegalArgumentException(source + ": not a safetensors file: header length " + n + " does not fit the file's " + bytes.length + " bytes");
        Object parsed = Json.parse(new String(bytes, 8, (int) n, StandardCharsets.UTF_8), source);
        if (!(parsed instanceof Map<?, ?> header)) throw new IllegalArgumentException(source + ": the safetensors header is not a JSON object");
        int dataStart = (int) (8 + n), dataLength = bytes.length - dataStart;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (var e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw new IllegalArgumentException(source + ": __metadata__ must be an object of strings");
                for (var me : m.entrySet()) metadata.put((String) me.getKey(), String.valueOf(me.getValue()));
                continue;
            }
            String where = source + ": tensor " + name;
            if (!(e.getValue() instanceof Map<?, ?> info)) throw new IllegalArgumentException(where + ": its header entry is not an object");
            if (!(info.get("dtype") instanceof String dtype)) throw new IllegalArgumentException(where + ": no dtype");
            int[] dims = longs(info.get("shape"), where, "shape");
            int[] off = longs(info.get("data_offsets"), where, "data_offsets");
            if (off.length != 2 || off[0] < 0 || off[1] < off[0] || off[1] > dataLength)
                throw new IllegalArgumentException(where + ": data_offsets " + java.util.Arrays.toString(off) + " fall outside the " + dataLength + "-byte buffer");
            Shape shape = Shape.of(dims);
            int width = switch (dtype) {
                case "F32" -> 4;
                case "F16", "BF16" -> 2;
                case "F64" -> 8;
                default -> throw new IllegalArgumentException(where + ": dtype " + dtype + " is not a floating type this reader takes (F32, F16, BF16, F64)");
            };
            long count = shape.numElements();
            if (count * width != off[1] - off[0])
                throw new IllegalArgumentException(where + ": shape " + shape + " of " + dtype + " needs " + count * width + " bytes, data_offsets give " + (off[1] - off[0]));
            float[] v = new float[(int) count];
            int p = dataStart + off[0];
            for (int i = 0; i < v.length; i++, p += width)
                v[i] = switch (dtype) {
                    case "F32" -> buf.getFloat(p);
                    case "F16" -> Float.float16ToFloat(buf.getShort(p));
                    case "BF16" -> Float.intBitsToFloat((buf.getShort(p) & 0xffff) << 16);
                    default -> (float) buf.getDouble(p);
                };
            tensors.put(name, Tensor.ofFloats(shape, v));
        }
        return new Contents(tensors, metadata);
    }

    private static int[] longs(Object o, String where, String key) {
        if (!(o instanceof List<?> l)) throw new IllegalArgumentException(where + ": " + key + " must be an array of integers");
        int[] r = new int[l.size()];
        for (int i = 0; i < r.length; i++) {
            if (!(l.get(i) instanceof Long v) || v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException(where + ": " + key + " must be an array of non-negative integers, got " + l);
            r[i] = (int) (long) v;
        }
        return r;
    }

    /** Writes f32 tensors (in map order) and string metadata as a safetensors file of F32 tensors. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, "F32");
    }

    /** As {@link #write(Path, Map, Map)}, storing every tensor as {@code dtype}: F32, F16 or BF16 (rounded to nearest even). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata, String dtype) throws IOException {
        int width = switch (dtype) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            default -> throw new IllegalArgumentException(file + ": the writer stores F32, F16 or BF16, not " + dtype);
        };
        StringBuilder h = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            h.append("\"__metadata__\":{");
            int i = 0;
            for (var e : metadata.entrySet()) h.append(i++ > 0 ? "," : "").append(quote(e.getKey())).append(':').append(quote(e.getValue()));
            h.append('}');
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            if (h.length() > 1) h.append(',');
            long bytes = e.getValue().shape().numElements() * width;
            h.append(quote(e.getKey())).append(":{\"dtype\":\"").append(dtype).append("\",\"shape\":[");
            int[] d = e.getValue().shape().dims();
            for (int i = 0; i < d.length; i++) h.append(i > 0 ? "," : "").append(d[i]);
            h.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        h.append('}');
        byte[] text = h.toString().getBytes(StandardCharsets.UTF_8);
        byte[] head = java.util.Arrays.copyOf(text, (text.length + 7) / 8 * 8); // padded with spaces so the buffer starts 8-aligned
        java.util.Arrays.fill(head, text.length, head.length, (byte) ' ');
        ByteBuffer out = ByteBuffer.allocate((int) (8 + head.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(head.length).put(head);
        for (Tensor t : tensors.values())
            for (float f : t.floats())
                switch (dtype) {
                    case "F32" -> out.putFloat(f);
                    case "F16" -> out.putShort(Float.floatToFloat16(f));
                    default -> out.putShort(bf16(f));
                }
        Files.write(file, out.array());
    }

    /** f32 to bf16 bits, rounded to nearest even (NaN stays a quiet NaN). */
    static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
