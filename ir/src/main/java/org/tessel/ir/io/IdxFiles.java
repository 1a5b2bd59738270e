package org.tessel.ir.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * The IDX format of MNIST and Fashion-MNIST ({@code train-images-idx3-ubyte[.gz]}): two zero bytes,
 * a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double), the
 * number of dimensions, each dimension as a big-endian 32-bit integer, then the elements big-endian in
 * C order. Files ending in {@code .gz} are gunzipped first. Errors name the file and what is wrong.
 */
public final class IdxFiles {
    private IdxFiles() {}

    /** The file's elements as a tensor: u8 and i8 keep their type, the wider integers become i64 and the floats f32. */
    public static Tensor read(Path file) throws IOException {
        byte[] b = bytes(file);
        String name = file.toString();
        if (b.length < 4 || b[0] != 0 || b[1] != 0)
            throw new IOException(name + ": not an IDX file (it must start with two zero bytes, a type byte and a rank byte)");
        int type = b[2] & 0xff, rank = b[3] & 0xff;
        int width = switch (type) {
            case 0x08, 0x09 -> 1;
            case 0x0B -> 2;
            case 0x0C, 0x0D -> 4;
            case 0x0E -> 8;
            default -> throw new IOException(name + ": unknown IDX element type 0x" + Integer.toHexString(type) + " (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)");
        };
        if (rank == 0) throw new IOException(name + ": IDX rank 0 (no dimensions)");
        if (b.length < 4 + 4 * rank) throw new IOException(name + ": truncated IDX header (rank " + rank + " needs " + (4 + 4 * rank) + " bytes, the file has " + b.length + ")");
        long[] dims = new long[rank];
        long count = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = readInt(b, 4 + 4 * i) & 0xffffffffL;
            count = Math.multiplyExact(count, dims[i]);
        }
        int offset = 4 + 4 * rank;
        long expected = count * width;
        if (b.length - offset != expected)
            throw new IOException(name + ": IDX dims " + java.util.Arrays.toString(dims) + " of " + width + "-byte elements need " + expected + " bytes of data, the file has "
                    + (b.length - offset) + (b.length - offset < expected ? " (truncated)" : " (trailing bytes)"));
        if (count > Integer.MAX_VALUE) throw new IOException(name + ": " + count + " elements, more than one tensor holds");
        Shape shape = Shape.of(dims);
        int n = (int) count;
        return switch (type) {
            case 0x08, 0x09 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = type == 0x08 ? b[offset + i] & 0xff : b[offset + i];
                yield Tensor.ofLongs(type == 0x08 ? DType.U8 : DType.I8, shape, v);
            }
            case 0x0B, 0x0C -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = type == 0x0B ? (short) (((b[offset + 2 * i] & 0xff) << 8) | (b[offset + 2 * i + 1] & 0xff)) : readInt(b, offset + 4 * i);
                yield Tensor.ofLongs(DType.I64, shape, v);
            }
            default -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++)
                    v[i] = type == 0x0D ? Float.intBitsToFloat(readInt(b, offset + 4 * i))
                            : (float) Double.longBitsToDouble(((long) readInt(b, offset + 8 * i) << 32) | (readInt(b, offset + 8 * i + 4) & 0xffffffffL));
                yield Tensor.ofFloats(DType.F32, shape, v);
            }
        };
    }

    private static int readInt(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }

    private static byte[] bytes(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new IOException(file + " is a folder, not an IDX file");
        if (!file.getFileName().toString().endsWith(".gz")) return Files.readAllBytes(file);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (ZipException | java.io.EOFException e) {
            throw new IOException(file + ": not a complete gzip file (" + e.getMessage() + ")");
        }
    }
}
