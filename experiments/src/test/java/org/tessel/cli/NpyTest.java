package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** The .npy reader and writer against files numpy 2.4 wrote (src/test/resources/npy, made as its README says). */
class NpyTest {
    @TempDir Path dir;

    private static Path fixture(String name) throws Exception {
        return Path.of(NpyTest.class.getResource("/npy/" + name).toURI());
    }

    @Test void readsWhatNumpyWrote() throws Exception {
        Tensor f = Npy.read(fixture("f32_2x3.npy"));
        assertEquals(DType.F32, f.dtype());
        assertEquals(Shape.of(2, 3), f.shape());
        assertArrayEquals(new float[] {-1f, -0.5f, 0f, 0.5f, 1f, 1.5f}, f.floats());
        Tensor h = Npy.read(fixture("f16_4.npy"));
        assertEquals(DType.F16, h.dtype());
        assertArrayEquals(new float[] {1f, -2.5f, 65504f, Float.float16ToFloat(Float.floatToFloat16(0.0001f))}, h.floats());
        Tensor l = Npy.read(fixture("i64_2x2.npy"));
        assertEquals(DType.I64, l.dtype());
        assertArrayEquals(new long[] {1, -2, 3, 1L << 40}, l.longs());
        Tensor i = Npy.read(fixture("i32_3.npy"));
        assertEquals(DType.I32, i.dtype());
        assertEquals(2147483647L, i.getLong(2));
        assertEquals(-8L, i.getLong(1));
        Tensor b = Npy.read(fixture("bool_2x2.npy"));
        assertEquals(DType.BOOL, b.dtype());
        assertArrayEquals(new long[] {1, 0, 0, 1}, b.longs());
        Tensor s = Npy.read(fixture("f32_scalar.npy"));
        assertEquals(0, s.rank());
        assertEquals(3.25f, s.getFloat(0));
        Tensor be = Npy.read(fixture("f64_be_2.npy"));
        assertEquals(DType.F64, be.dtype());
        assertArrayEquals(new double[] {1.5, -0.25}, be.doubles());
    }

    @Test void writesByteForByteWhatNumpyWrites() throws Exception {
        for (String f : new String[] {"f32_2x3.npy", "f16_4.npy", "i64_2x2.npy", "i32_3.npy", "bool_2x2.npy", "f32_scalar.npy"}) {
            byte[] numpy = Files.readAllBytes(fixture(f));
            assertArrayEquals(numpy, Npy.bytes(Npy.read(fixture(f))), f);
        }
    }

    @Test void roundTripsAndAlignsTheHeaderLikeNumpy() throws Exception {
        Tensor t = Tensor.zeros(DType.F32, Shape.of(1, 3, 224, 224));
        for (int i = 0; i < t.size(); i++) t.setDouble(i, Math.sin(i));
        Path f = dir.resolve("x.npy");
        Npy.write(f, t);
        byte[] b = Files.readAllBytes(f);
        int header = (b[8] & 0xFF) | (b[9] & 0xFF) << 8;
        assertEquals(0, (10 + header) % 64, "data starts on a 64-byte boundary");
        assertEquals('\n', b[10 + header - 1]);
        assertTrue(Npy.read(f).dataEquals(t));
    }

    @Test void badFilesAreRefusedNamingTheFileAndWhatIsWrong() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Npy.read(fixture("f32_fortran_2x2.npy")));
        assertTrue(e.getMessage().endsWith("f32_fortran_2x2.npy: the array is stored in Fortran order; save it in C order (numpy.ascontiguousarray) to read it here"), e.getMessage());

        Path bad = dir.resolve("bad.npy");
        Files.writeString(bad, "not numpy at all");
        e = assertThrows(IllegalArgumentException.class, () -> Npy.read(bad));
        assertEquals(bad + ": not an .npy file (it does not start with numpy's magic \\x93NUMPY)", e.getMessage());

        byte[] whole = Files.readAllBytes(fixture("f32_2x3.npy"));
        Path cut = dir.resolve("cut.npy");
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 4));
        e = assertThrows(IllegalArgumentException.class, () -> Npy.read(cut));
        assertEquals(cut + ": 20 data bytes, shape (2, 3) of <f4 needs 24", e.getMessage());

        Path complex = dir.resolve("c.npy");
        Files.write(complex, new String(whole, java.nio.charset.StandardCharsets.ISO_8859_1).replace("<f4", "<c8").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        e = assertThrows(IllegalArgumentException.class, () -> Npy.read(complex));
        assertEquals(complex + ": element type '<c8' is not supported (f4, f2, f8, i8, i4, i1, u1, b1)", e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> Npy.bytes(Tensor.zeros(DType.BF16, Shape.of(2))));
        assertEquals("numpy has no bf16 type; save this tensor as .pb (ONNX TensorProto) instead", e.getMessage());
    }
}
