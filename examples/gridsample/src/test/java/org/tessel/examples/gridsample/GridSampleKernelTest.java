package org.tessel.examples.gridsample;

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
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.TacticCatalog;

/**
 * The GPU half of the GridSample tactic, as far as it can be checked without a GPU: the tactic's
 * CUDA C source declares an entry point per (element type, layout) it claims; compiled by nvcc for
 * sm_90 it defines each of them (skipped where nvcc is absent); and compiled for the host with a
 * shim for CUDA's thread indices it computes exactly what the plugin's reference computes, in f32,
 * f16 and bf16, for every mode, padding and alignment (skipped where g++ is absent). Running it on
 * a GPU through NVRTC is the GPU engine's part (not here).
 */
class GridSampleKernelTest {
    @TempDir static Path dir;

    static CudaSourceTactic tactic() { return (CudaSourceTactic) TacticCatalog.classPath().byId(GridSampleTactics.ID); }

    static String resource(Class<?> c, String name) throws IOException {
        try (InputStream in = c.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
            if (Files.isExecutable(Path.of(d, tool))) return true;
        return false;
    }

    static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
        assertEquals(0, p.exitValue(), cmd + ":\n" + out);
        return out;
    }

    @Test void theKernelDeclaresEveryCombinationTheTacticClaims() {
        CudaSourceTactic t = tactic();
        CudaKernel k = t.kernel();
        assertEquals(List.of(), k.undefinedEntries());
        for (Precision p : t.precisions())
            for (Layout l : t.layouts()) assertTrue(k.variant(p.storage(), l).isPresent(), p + "/" + l);
        assertEquals(List.of("gridsample_f32_nchw", "gridsample_f16_nchw", "gridsample_bf16_nchw"), k.variants().stream().map(CudaKernel.Variant::entry).toList());
    }

    @Test void nvccCompilesEveryEntryPointForSm90() throws Exception {
        assumeTrue(onPath("nvcc"), "nvcc is not on the PATH: the CUDA source is not compiled here");
        Path cu = dir.resolve("gridsample-nvcc.cu"), ptx = dir.resolve("gridsample.ptx");
        // as the GPU engine compiles it: Tessel's prelude, then the plugin's source
        Files.writeString(cu, resource(GridSampleKernelTest.class, "/org/tessel/runtime/gpu/kernels/prelude.cuh") + "\n" + tactic().kernel().source());
        run(List.of("nvcc", "-ptx", "-arch=sm_90", "-o", ptx.toString(), cu.toString()));
        String text = Files.readString(ptx);
        for (CudaKernel.Variant v : tactic().kernel().variants()) assertTrue(text.contains(".entry " + v.entry() + "("), v.entry() + " in the PTX");
    }

    static Path hostBinary;

    static synchronized Path host() throws Exception {
        if (hostBinary == null) {
            Path src = dir.resolve("gridsample-host.cpp");
            Files.writeString(src, resource(GridSampleKernelTest.class, "host-shim.h") + "\n" + tactic().kernel().source() + "\n"
                    + resource(GridSampleKernelTest.class, "host-driver.cpp"));
            Path bin = dir.resolve("gridsample-host");
            run(List.of("g++", "-std=c++17", "-O2", "-ffp-contract=off", "-o", bin.toString(), src.toString()));
            hostBinary = bin;
        }
        return hostBinary;
    }

    /** The host-compiled kernel's output for these inputs, as a tensor of x's type. */
    static Tensor kernel(Tensor x, Tensor grid, Node n) throws Exception {
        DType d = x.dtype();
        long[] args = tactic().kernelArguments(n, d == DType.F32 ? Precision.FP32 : d == DType.F16 ? Precision.FP16 : Precision.BF16);
        int ho = grid.shape().dim(1), wo = grid.shape().dim(2);
        long count = (long) x.shape().dim(0) * x.shape().dim(1) * ho * wo;
        int word = d == DType.F32 ? 4 : 2;
        ByteBuffer b = ByteBuffer.allocate(11 * 8 + (x.size() + grid.size()) * word).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(d == DType.F32 ? 0 : d == DType.F16 ? 1 : 2).putLong(count);
        for (long a : args) b.putLong(a);
        for (Tensor t : List.of(x, grid)) for (int i = 0; i < t.size(); i++) put(b, d, t.getFloat(i));
        Path in = Files.createTempFile(dir, "in", ".bin"), out = Files.createTempFile(dir, "out", ".bin");
        Files.write(in, b.array());
        run(List.of(host().toString(), in.toString(), out.toString()));
        ByteBuffer r = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        Tensor y = Tensor.zeros(d, Shape.of(x.shape().dim(0), x.shape().dim(1), ho, wo));
        for (int i = 0; i < y.size(); i++) y.floats()[i] = get(r, d);
        return y;
    }

    static void put(ByteBuffer b, DType d, float v) {
        switch (d) {
            case F32 -> b.putFloat(v);
            case F16 -> b.putShort(Float.floatToFloat16(v));
            default -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16)); // bf16 values are exact in their top 16 bits
        }
    }

    static float get(ByteBuffer r, DType d) {
        return switch (d) {
            case F32 -> r.getFloat();
            case F16 -> Float.float16ToFloat(r.getShort());
            default -> Float.intBitsToFloat((r.getShort() & 0xffff) << 16);
        };
    }

    @Test void theHostCompiledKernelComputesExactlyWhatTheReferenceDoes() throws Exception {
        assumeTrue(onPath("g++"), "g++ is not on the PATH: the kernel source is not run on the host here");
        SplittableRandom r = new SplittableRandom(11);
        Tensor x32 = GridSampleModels.random(r, Shape.of(2, 3, 7, 9), 2.0), g32 = GridSampleModels.random(r, Shape.of(2, 5, 11, 2), 1.5);
        int checked = 0;
        for (DType d : List.of(DType.F32, DType.F16, DType.BF16)) {
            Tensor x = x32.cast(d), grid = g32.cast(d);
            for (String mode : GridSampleOpTest.MODES)
                for (String padding : GridSampleOpTest.PADDINGS)
                    for (int align = 0; align <= 1; align++) {
                        Graph g = new Graph("gs");
                        var xv = g.addInput("x", x.type());
                        var gv = g.addInput("grid", grid.type());
                        Attributes a = Attributes.builder().put("mode", mode).put("padding_mode", padding).put("align_corners", (long) align).build();
                        Node n = g.addNode(GridSampleOpTest.REGISTRY.get("GridSample"), "sample", List.of(xv, gv), a, 1);
                        Tensor want = GridSampleOpTest.sample(x, grid, mode, padding, align);
                        Tensor got = kernel(x, grid, n);
                        String what = d.text() + " " + mode + "/" + padding + "/align " + align;
                        assertTrue(want.dataEquals(got), what + ": first difference " + firstDifference(want, got));
                        checked++;
                    }
        }
        assertEquals(54, checked);
    }

    static String firstDifference(Tensor a, Tensor b) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.size() && out.size() < 3; i++) if (Float.compare(a.getFloat(i), b.getFloat(i)) != 0) out.add("[" + i + "] " + a.getFloat(i) + " vs " + b.getFloat(i));
        return out.toString();
    }
}
