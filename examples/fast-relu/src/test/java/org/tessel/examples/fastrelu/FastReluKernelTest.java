package org.tessel.examples.fastrelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.text.IrParser;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.TacticCatalog;

/**
 * The Relu kernel's CUDA C source without a GPU: nvcc compiles both entry points for sm_90 (skipped
 * without nvcc), and compiled for the host it gives the reference interpreter's Relu bit for bit on
 * f16 and bf16 words, negative zeros, infinities and NaNs of both signs included (skipped without g++).
 */
class FastReluKernelTest {
    @TempDir static Path dir;

    static CudaSourceTactic tactic() { return (CudaSourceTactic) TacticCatalog.classPath().byId(FastReluTactics.ID); }

    static String resource(String name) throws IOException {
        try (InputStream in = FastReluKernelTest.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) if (Files.isExecutable(Path.of(d, tool))) return true;
        return false;
    }

    static void run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), cmd + ":\n" + out);
    }

    @Test void everyClaimedCombinationHasAnEntryPoint() {
        CudaKernel k = tactic().kernel();
        assertEquals(List.of(), k.undefinedEntries());
        for (var p : tactic().precisions()) for (var l : tactic().layouts()) assertTrue(k.variant(p.storage(), l).isPresent(), p + "/" + l);
    }

    @Test void nvccCompilesItForSm90() throws Exception {
        assumeTrue(onPath("nvcc"), "nvcc is not on the PATH: the CUDA source is not compiled here");
        Path cu = dir.resolve("relu8.cu"), ptx = dir.resolve("relu8.ptx");
        Files.writeString(cu, resource("/org/tessel/runtime/gpu/kernels/prelude.cuh") + "\n" + tactic().kernel().source());
        run(List.of("nvcc", "-ptx", "-arch=sm_90", "-o", ptx.toString(), cu.toString()));
        String text = Files.readString(ptx);
        assertTrue(text.contains(".entry relu_f16x8(") && text.contains(".entry relu_bf16x8("), "both entry points in the PTX");
    }

    @Test void onTheHostItIsTheReferenceReluBitForBit() throws Exception {
        assumeTrue(onPath("g++"), "g++ is not on the PATH: the kernel source is not run on the host here");
        Path src = dir.resolve("relu-host.cpp"), bin = dir.resolve("relu-host");
        Files.writeString(src, resource("host-shim.h") + "\n" + tactic().kernel().source() + "\n" + resource("host-driver.cpp"));
        run(List.of("g++", "-std=c++17", "-O2", "-o", bin.toString(), src.toString()));
        SplittableRandom r = new SplittableRandom(5);
        int n = 8 * 300; // more vectors than the 2 x 256 threads: the grid-stride loop wraps
        for (DType d : List.of(DType.F16, DType.BF16)) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-4, 4);
            float[] special = {-0f, 0f, Float.NaN, Float.intBitsToFloat(0xffc00000), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 65504f, -65504f};
            System.arraycopy(special, 0, v, 0, special.length);
            Tensor x = Tensor.ofFloats(d, Shape.of(1, 8, 300), v);
            Graph g = IrParser.parse("graph @r(%x: " + d.text() + "[1,8,300]) {\n  %y = Relu(%x) : " + d.text() + "[1,8,300]\n  return %y\n}\n", "relu.tir");
            Tensor want = new ReferenceInterpreter().run(g, List.of(x)).getFirst();
            ByteBuffer b = ByteBuffer.allocate(16 + 2 * n).order(ByteOrder.LITTLE_ENDIAN).putLong(d == DType.F16 ? 0 : 1).putLong(n);
            for (int i = 0; i < n; i++) b.putShort(bits(d, x.getFloat(i), i < special.length ? special[i] : x.getFloat(i)));
            Path in = dir.resolve("in-" + d.text()), out = dir.resolve("out-" + d.text());
            Files.write(in, b.array());
            run(List.of(bin.toString(), in.toString(), out.toString()));
            ByteBuffer got = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                short w = got.getShort();
                float value = d == DType.F16 ? Float.float16ToFloat(w) : Float.intBitsToFloat((w & 0xffff) << 16);
                float expect = want.getFloat(i);
                assertTrue(Float.isNaN(expect) ? Float.isNaN(value) : Float.floatToIntBits(expect) == Float.floatToIntBits(value),
                        d.text() + " element " + i + " (" + x.getFloat(i) + "): kernel " + value + ", reference " + expect);
            }
        }
    }

    /** The 16-bit word of a value (keeping a NaN's sign, which Tensor's rounding may not). */
    static short bits(DType d, float rounded, float original) {
        if (Float.isNaN(original)) {
            boolean negative = Float.floatToRawIntBits(original) < 0;
            return (short) (d == DType.F16 ? (negative ? 0xfe00 : 0x7e00) : (negative ? 0xffc0 : 0x7fc0));
        }
        return d == DType.F16 ? Float.floatToFloat16(rounded) : (short) (Float.floatToRawIntBits(rounded) >>> 16);
    }
}
