package org.tessel.ir.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

class IdxFilesTest {
    @TempDir Path dir;

    private static byte[] idx(int type, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }

    @Test
    void readsUnsignedBytesPlainAndGzipped() throws IOException {
        byte[] data = {0, 1, (byte) 200, (byte) 255, 7, 9};
        byte[] file = idx(0x08, new int[] {2, 3}, data);
        Path plain = Files.write(dir.resolve("x-idx2-ubyte"), file);
        Path gz = dir.resolve("x-idx2-ubyte.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) { out.write(file); }
        for (Path p : new Path[] {plain, gz}) {
            Tensor t = IdxFiles.read(p);
            assertEquals(DType.U8, t.dtype());
            assertEquals(Shape.of(2, 3), t.shape());
            assertArrayEquals(new long[] {0, 1, 200, 255, 7, 9}, t.longs());
        }
    }

    @Test
    void readsBigEndianIntsAndFloats() throws IOException {
        ByteBuffer ints = ByteBuffer.allocate(8).putInt(-5).putInt(70000);
        assertArrayEquals(new long[] {-5, 70000}, IdxFiles.read(Files.write(dir.resolve("i"), idx(0x0C, new int[] {2}, ints.array()))).longs());
        ByteBuffer floats = ByteBuffer.allocate(8).putFloat(1.5f).putFloat(-0.25f);
        assertArrayEquals(new float[] {1.5f, -0.25f}, IdxFiles.read(Files.write(dir.resolve("f"), idx(0x0D, new int[] {2}, floats.array()))).floats());
    }

    @Test
    void badFilesNameTheFileAndTheProblem() throws IOException {
        Path truncated = Files.write(dir.resolve("short"), idx(0x08, new int[] {2, 3}, new byte[5]));
        IOException e = assertThrows(IOException.class, () -> IdxFiles.read(truncated));
        assertTrue(e.getMessage().contains("short") && e.getMessage().contains("(truncated)"), e.getMessage());
        Path magic = Files.write(dir.resolve("magic"), new byte[] {1, 2, 8, 1, 0, 0, 0, 1, 0});
        e = assertThrows(IOException.class, () -> IdxFiles.read(magic));
        assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());
        Path type = Files.write(dir.resolve("type"), idx(0x07, new int[] {1}, new byte[1]));
        e = assertThrows(IOException.class, () -> IdxFiles.read(type));
        assertTrue(e.getMessage().contains("unknown IDX element type 0x7"), e.getMessage());
        Path header = Files.write(dir.resolve("header"), new byte[] {0, 0, 8, 3, 0, 0});
        e = assertThrows(IOException.class, () -> IdxFiles.read(header));
        assertTrue(e.getMessage().contains("truncated IDX header"), e.getMessage());
        Path brokenGz = Files.write(dir.resolve("broken.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 0});
        e = assertThrows(IOException.class, () -> IdxFiles.read(brokenGz));
        assertTrue(e.getMessage().contains("broken.gz") && e.getMessage().contains("gzip"), e.getMessage());
    }

    /** Debian's dataset-fashion-mnist package, where installed: 10,000 test images of 28x28 and their labels 0..9. */
    @Test
    void readsFashionMnistWhereInstalled() throws IOException {
        Path d = Path.of("/usr/share/datasets/fashion-mnist");
        assumeTrue(Files.isDirectory(d), "skipped: " + d + " is absent (apt-get install dataset-fashion-mnist)");
        Tensor images = IdxFiles.read(d.resolve("t10k-images-idx3-ubyte.gz"));
        Tensor labels = IdxFiles.read(d.resolve("t10k-labels-idx1-ubyte.gz"));
        assertEquals(Shape.of(10000, 28, 28), images.shape());
        assertEquals(Shape.of(10000), labels.shape());
        long[] counts = new long[10];
        for (long l : labels.longs()) counts[(int) l]++;
        for (long c : counts) assertEquals(1000, c, "Fashion-MNIST's test set has 1,000 images of each class");
    }
}
