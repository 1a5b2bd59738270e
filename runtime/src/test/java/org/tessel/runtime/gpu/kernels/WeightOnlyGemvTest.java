package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.ir.ops.WeightQuantizer;

/**
 * The weight-only GEMV kernel without a GPU: nvcc compiles every specialization to PTX for sm_90, and
 * the kernel runs on the host under the threaded CUDA emulation (runtime/src/test/cuda-emu/shim.h: a
 * std::thread per CUDA thread, barriers for warp shuffles) against tessel.WeightOnlyMatMul's reference.
 */
class WeightOnlyGemvTest {
    @Test void everySpecializationCompilesWithNvcc(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        Map<String, String> sources = new LinkedHashMap<>();
        for (DType t : List.of(DType.F16, DType.BF16)) for (int bits : new int[] {4, 8}) sources.put("gemv_w" + bits + "a16_" + t.text(), WeightOnlyGemv.source(t, bits));
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, sources, ptx -> ptx.contains("ld.global.nc.v4") || ptx.contains("ld.global.v4") ? null : "no 16-byte loads in the PTX"));
    }

    @Test void refusesShapesItsLoadsDoNotFit() {
        assertNull(WeightOnlyGemv.whyNot(4096, 128, 4));
        assertEquals("K=4016 is not a multiple of 32 (16-byte weight loads)", WeightOnlyGemv.whyNot(4016, 16 * 251, 4));
        assertEquals("group size 16 is not a multiple of 32 (a 16-byte chunk would span two groups)", WeightOnlyGemv.whyNot(4096, 16, 4));
        assertNull(WeightOnlyGemv.whyNot(4096, 16, 8));
        assertThrows(IllegalArgumentException.class, () -> WeightOnlyGemv.source(DType.F32, 4));
    }

    @Test void kernelMatchesTheReferenceUnderHostEmulation(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        Path shim = Path.of("src/test/cuda-emu/shim.h");
        assumeTrue(Files.isRegularFile(shim), "cuda-emu shim not found (run from the runtime module)");
        Files.copy(shim, dir.resolve("shim.h"));
        // N not a multiple of the 8 rows a block covers; 8-bit asymmetric and 4-bit both ways; two activation rows
        Object[][] configs = {{DType.F16, 4, 64, true, 300, 1024, 1}, {DType.BF16, 4, 128, false, 77, 512, 2}, {DType.F16, 8, 32, true, 50, 256, 2},
                {DType.BF16, 8, 128, false, 33, 384, 1}};
        for (Object[] c : configs) check(dir, (DType) c[0], (int) c[1], (int) c[2], (boolean) c[3], (int) c[4], (int) c[5], (int) c[6]);
    }

    private static void check(Path dir, DType t, int bits, int group, boolean symmetric, int n, int k, int m) throws Exception {
        SplittableRandom r = new SplittableRandom(n * 31L + k);
        float[] w = new float[k * n];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * 0.05);
        var f = new WeightQuantizer.Format(bits, group, symmetric);
        var q = WeightQuantizer.quantize(w, k, n, f, DType.F16);
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = Tensor.round(t, (float) r.nextGaussian());
        // the reference: the op on the same (narrow) activations, output rounded to the activation type
        Graph g = new Graph("gemv");
        Value a = g.addInput("a", TensorType.of(t, Shape.of(m, k)));
        List<Value> ins = new java.util.ArrayList<>(List.of(a, g.addConstant("w", q.codes()), g.addConstant("s", q.scales())));
        if (!symmetric) ins.add(g.addConstant("z", q.zeroPoints()));
        Node node = g.addNode(OpRegistry.global().get(QuantizedMatMulOps.WEIGHT_ONLY), "proj", ins,
                Attributes.builder().put("bits", (long) bits).put("group_size", (long) group).build(), 1);
        g.setOutputs(List.of(node.output()));
        float[] want = new ReferenceInterpreter().run(g, List.of(Tensor.ofFloats(t, Shape.of(m, k), x))).getFirst().floats();

        write(dir.resolve("x.bin"), x, t);
        byte[] codes = new byte[(int) q.codes().type().numElements()];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) q.codes().longs()[i];
        Files.write(dir.resolve("w.bin"), codes);
        write(dir.resolve("s.bin"), q.scales().floats(), DType.F16);
        byte[] zeros = new byte[symmetric ? 1 : (int) q.zeroPoints().type().numElements()];
        for (int i = 0; !symmetric && i < zeros.length; i++) zeros[i] = (byte) q.zeroPoints().longs()[i];
        Files.write(dir.resolve("z.bin"), zeros);
        String kernel = Int8KernelsTest.withoutPrelude(WeightOnlyGemv.source(t, bits));
        String main = """
                #include <cstdio>
                static std::vector<unsigned char> readBytes(const char* f) { FILE* p = std::fopen(f, "rb"); std::vector<unsigned char> v; int c; while ((c = std::fgetc(p)) != EOF) v.push_back((unsigned char) c); std::fclose(p); return v; }
                int main(int argc, char** argv) {
                    int n = std::atoi(argv[1]), k = std::atoi(argv[2]), m = std::atoi(argv[3]), group = std::atoi(argv[4]), sym = std::atoi(argv[5]), blocks = std::atoi(argv[6]);
                    auto xb = readBytes("x.bin"), wb = readBytes("w.bin"), sb = readBytes("s.bin"), zb = readBytes("z.bin");
                    alignas(16) static unsigned char xs[1 << 20], ws[1 << 20];
                    std::memcpy(xs, xb.data(), xb.size()); std::memcpy(ws, wb.data(), wb.size());
                    std::vector<unsigned short> s(sb.size() / 2), y((size_t) m * n, 0xFFFF);
                    std::memcpy(s.data(), sb.data(), sb.size());
                    const unsigned char* z = sym ? nullptr : zb.data();
                    launch({blocks, m, 1}, 128, [&] { tessel_gemv_wo((const unsigned short*) xs, ws, s.data(), z, y.data(), n, k, group); });
                    FILE* o = std::fopen("y.bin", "wb"); std::fwrite(y.data(), 2, y.size(), o); std::fclose(o);
                    return 0;
                }
                """;
        Files.writeString(dir.resolve("k.cpp"), "#include \"shim.h\"\n" + kernel + "\n" + main);
        Process cc = new ProcessBuilder("g++", "-std=c++20", "-O1", "-pthread", "-w", "-o", "k", "k.cpp").directory(dir.toFile()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "g++ failed on the emulated kernel:\n" + ccOut);
        Process run = new ProcessBuilder(dir.resolve("k").toString(), "" + n, "" + k, "" + m, "" + group, symmetric ? "1" : "0", "" + WeightOnlyGemv.blocks(n))
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor(), out);
        byte[] yb = Files.readAllBytes(dir.resolve("y.bin"));
        double worst = 0;
        for (int i = 0; i < m * n; i++) {
            int h = (yb[2 * i] & 0xFF) | (yb[2 * i + 1] & 0xFF) << 8;
            float got = t == DType.F16 ? Float.float16ToFloat((short) h) : Float.intBitsToFloat(h << 16);
            double tol = (t == DType.F16 ? 2e-3 : 1.6e-2) * (1 + Math.abs(want[i]));
            worst = Math.max(worst, Math.abs(got - want[i]) / (1 + Math.abs(want[i])));
            assertEquals(want[i], got, tol, t.text() + " w" + bits + " g" + group + (symmetric ? "" : " asym") + " row " + i / n + " col " + i % n);
        }
        System.out.printf("gemv %s w%d g%d %s N=%d K=%d M=%d: max error %.2e (relative to 1 + |y|)%n", t.text(), bits, group, symmetric ? "sym" : "asym", n, k, m, worst);
    }

    private static void write(Path p, float[] v, DType t) throws Exception {
        var b = Int8KernelsTest.le(2 * v.length);
        for (float f : v) b.putShort(t == DType.F16 ? Float.floatToFloat16(f) : (short) (Float.floatToRawIntBits(f) >>> 16));
        Files.write(p, b.array());
    }
}
