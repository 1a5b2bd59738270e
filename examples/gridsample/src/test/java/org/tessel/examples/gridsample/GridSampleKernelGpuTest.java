package org.tessel.examples.gridsample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * The GridSample kernel on a GPU, as a GPU engine would run it under ABI tessel-cuda-1: Tessel's
 * prelude and the plugin's source compiled by NVRTC, each variant launched with a small grid (the
 * grid-stride loop wraps) on inputs uploaded in its element type, the output poisoned first and
 * followed by a guard region that must stay untouched; compared with the plugin's reference for every
 * mode, padding and alignment. Tagged gpu: it runs on the GPU machine, never in ./run-tests.
 */
@Tag("gpu")
class GridSampleKernelGpuTest {
    static final int GUARD = 4096;

    @Test void everyVariantMatchesTheReferenceAndWritesOnlyItsOutput() {
        Backend b = Backend.detect();
        assumeTrue(b instanceof Backend.Gpu, () -> "no CUDA GPU: " + b.describe());
        CudaContext ctx = ((Backend.Gpu) b).context();
        ctx.bind();
        var tactic = GridSampleKernelTest.tactic();
        String source = KernelCompiler.prelude() + "\n" + tactic.kernel().source();
        SplittableRandom r = new SplittableRandom(17);
        Tensor x32 = GridSampleModels.random(r, Shape.of(2, 5, 23, 31), 2.0), g32 = GridSampleModels.random(r, Shape.of(2, 19, 27, 2), 1.5);
        List<String> failures = new ArrayList<>();
        int cases = 0;
        try (KernelCompiler kc = new KernelCompiler(ctx)) {
            for (DType d : List.of(DType.F32, DType.F16, DType.BF16)) {
                Tensor x = x32.cast(d), grid = g32.cast(d);
                var variant = tactic.kernel().variant(d, org.tessel.api.Layout.NCHW).orElseThrow();
                org.tessel.runtime.cuda.CudaKernel k = kc.kernel("gridsample.cu", source, variant.entry());
                for (String mode : GridSampleOpTest.MODES)
                    for (String padding : GridSampleOpTest.PADDINGS)
                        for (int align = 0; align <= 1; align++) {
                            Graph g = new Graph("gs");
                            var xv = g.addInput("x", x.type());
                            var gv = g.addInput("grid", grid.type());
                            Attributes a = Attributes.builder().put("mode", mode).put("padding_mode", padding).put("align_corners", (long) align).build();
                            Node n = g.addNode(GridSampleOpTest.REGISTRY.get("GridSample"), "sample", List.of(xv, gv), a, 1);
                            Tensor want = GridSampleOpTest.sample(x, grid, mode, padding, align);
                            long count = want.size();
                            long[] args = tactic.kernelArguments(n, d == DType.F32 ? Precision.FP32 : d == DType.F16 ? Precision.FP16 : Precision.BF16);
                            int word = d == DType.F32 ? 4 : 2;
                            try (DeviceBuffer dx = DeviceBuffer.ofBytes(bytes(x)); DeviceBuffer dg = DeviceBuffer.ofBytes(bytes(grid));
                                 DeviceBuffer da = DeviceBuffer.ofBytes(longs(args)); DeviceBuffer dy = DeviceBuffer.allocate((count + GUARD) * word)) {
                                dy.fill((byte) 0xFF);
                                int blocks = (int) Math.min((count + 255) / 256, 7);
                                k.launch(blocks, 256, 0, CudaStream.DEFAULT, org.tessel.runtime.cuda.CudaKernel.args().ptr(dx).ptr(dg).ptr(dy).ptr(da).i64(count));
                                ctx.synchronize();
                                byte[] out = new byte[(int) ((count + GUARD) * word)];
                                dy.copyTo(out);
                                String what = d.text() + " " + mode + "/" + padding + "/align " + align;
                                for (int i = (int) count * word; i < out.length; i++)
                                    if (out[i] != (byte) 0xFF) { failures.add(what + ": wrote past its output at byte " + i); break; }
                                Tensor got = tensor(out, d, want.shape());
                                double tol = d == DType.F32 ? 1e-5 : d == DType.F16 ? 2e-3 : 1.6e-2; // f32: contracted multiply-adds; 16-bit: one rounding of the result
                                for (int i = 0; i < count; i++) {
                                    double w = want.getDouble(i), v = got.getDouble(i);
                                    if (!(Math.abs(v - w) <= tol * Math.max(1, Math.abs(w)))) { failures.add(what + ": element " + i + " " + v + " vs " + w); break; }
                                }
                                System.out.printf("RESULT|plugin gridsample %s|%s|%s|ok-if-no-failure%n", what, d.text(), want.shape());
                                cases++;
                            }
                        }
            }
        }
        assertEquals(54, cases);
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    static byte[] bytes(Tensor t) {
        int word = t.dtype() == DType.F32 ? 4 : 2;
        ByteBuffer b = ByteBuffer.allocate(t.size() * word).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < t.size(); i++) GridSampleKernelTest.put(b, t.dtype(), t.getFloat(i));
        return b.array();
    }

    static byte[] longs(long[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long l : v) b.putLong(l);
        return b.array();
    }

    static Tensor tensor(byte[] data, DType d, Shape s) {
        ByteBuffer r = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        Tensor t = Tensor.zeros(d, s);
        for (int i = 0; i < t.size(); i++) t.floats()[i] = GridSampleKernelTest.get(r, d);
        return t;
    }
}
