package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * The FP8 kernels without a GPU: quantize_fp8.cu (with fp8.cuh's integer-arithmetic E4M3 conversion)
 * compiles to PTX for sm_90 with nvcc for every storage type, and, run on the CPU under the INT8 host
 * shim, gives Float8E4M3's code for every value (each E4M3 value and midpoint at two scales, their
 * neighbours, 200,000 random bit patterns, zeros, infinities, NaN), and dequantizes every code to
 * PrecisionEmulation's value.
 */
class Fp8KernelsTest {
    /** What g++ needs besides int8_host_shim.h: the bit casts nvcc provides as intrinsics. */
    private static final String BIT_CASTS = """
            static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
            static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
            """;

    @Test void sourcesCompileWithNvccForSm90(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        Map<String, String> sources = new LinkedHashMap<>();
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) sources.put("quantize_fp8_" + t.text(), QuantizeFp8.source(t));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, sources, ptx -> ptx.contains(".entry tessel_quantize_fp8") && ptx.contains(".entry tessel_dequantize_fp8")
                ? null : "no tessel_quantize_fp8/tessel_dequantize_fp8 entry in the PTX"));
    }

    @Test void quantizeKernelMatchesFloat8E4M3UnderHostEmulation(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        SplittableRandom r = new SplittableRandom(8);
        java.util.List<Float> vs = new java.util.ArrayList<>();
        for (int c = 0; c < 256; c++) {
            float v = Float8E4M3.toFloat(c), next = Float8E4M3.toFloat(c + 1);
            vs.add(v);
            vs.add(Math.nextUp(v));
            vs.add(Math.nextDown(v));
            if ((c & 0x7F) < 0x7E && !Float.isNaN(next)) {
                float mid = (v + next) / 2; // exact: a tie
                vs.add(mid);
                vs.add(Math.nextUp(mid));
                vs.add(Math.nextDown(mid));
            }
        }
        for (float s : new float[] {448f, 464f, 480f, 1e30f, 0x1p-10f, 0x1p-16f, 0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) { vs.add(s); vs.add(-s); }
        for (int i = 0; i < 200_000; i++) vs.add(Float.intBitsToFloat(r.nextInt()));
        int n = vs.size();
        java.nio.ByteBuffer in = Int8KernelsTest.le(4 * n);
        for (float f : vs) in.putFloat(f);
        Files.write(dir.resolve("in.bin"), in.array());
        String main = """
                int main(int argc, char** argv) {
                    long long n = std::atoll(argv[1]);
                    float scale = std::strtof(argv[2], nullptr);
                    std::vector<float> in(n);
                    std::vector<unsigned char> out(n);
                    readFile("in.bin", in);
                    tessel_quantize_fp8(in.data(), out.data(), scale, n);
                    writeFile(argv[3], out);
                    std::vector<unsigned char> codes(256);
                    for (int c = 0; c < 256; c++) codes[c] = (unsigned char) c;
                    std::vector<float> back(256);
                    tessel_dequantize_fp8(codes.data(), back.data(), scale, 256);
                    writeFile(argv[4], back);
                    return 0;
                }
                """;
        String source = BIT_CASTS + Int8KernelsTest.withoutPrelude(QuantizeFp8.source(DType.F32));
        for (float scale : new float[] {1f, 0.0173f}) {
            Int8KernelsTest.runOnHost(dir, source, main, Integer.toString(n), Float.toString(scale), "out.bin", "back.bin");
            byte[] got = Files.readAllBytes(dir.resolve("out.bin"));
            for (int i = 0; i < n; i++) {
                float v = vs.get(i);
                assertEquals(Float8E4M3.toBits(v / scale, true), got[i] & 0xFF, "value " + v + " (bits " + Integer.toHexString(Float.floatToRawIntBits(v)) + ") at scale " + scale);
            }
            java.nio.ByteBuffer back = java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("back.bin"))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int c = 0; c < 256; c++) {
                float want = Float8E4M3.toFloat(c) * scale, b = back.getFloat();
                if (Float.isNaN(want)) assertTrue(Float.isNaN(b), "code " + c);
                else assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(b), "code " + c + " at scale " + scale);
                // quantize then dequantize is the CPU engine's fake quantization
                if (!Float.isNaN(want)) assertEquals(PrecisionEmulation.fakeQuantizeFp8(want, scale), b, "code " + c);
            }
        }
    }
}
