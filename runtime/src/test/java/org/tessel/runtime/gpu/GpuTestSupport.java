package org.tessel.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * Shared fixtures of the GPU tests: one context and kernel compiler per JVM, seeded random inputs,
 * the reference interpreter, and the comparison every GPU result goes through. Each comparison
 * prints one {@code RESULT|...} line that scripts/gpu-run.sh's suite gathers into a table.
 *
 * <p>With {@code -Dtessel.test.device=emulated} the context is the emulated device's
 * ({@link CudaContext#emulated()}: host memory, Tessel's kernels compiled by g++ and run on CPU
 * threads), so GPU tests that use only Tessel's own kernels run on a machine without a GPU; a test
 * that needs cuBLAS, cuDNN or tensor-core PTX fails there naming what is missing.
 */
public final class GpuTestSupport {
    private static CudaContext context;
    private static KernelCompiler compiler;
    private static String unavailable;

    private GpuTestSupport() {}

    /** True when the tests run on the emulated device ({@code -Dtessel.test.device=emulated}). */
    public static boolean emulated() {
        String device = System.getProperty("tessel.test.device", "gpu");
        if (!device.equals("gpu") && !device.equals("emulated"))
            throw new IllegalArgumentException("-Dtessel.test.device must be gpu or emulated, got '" + device + "'");
        return device.equals("emulated");
    }

    /** Skips the calling test unless a CUDA GPU is present (or the emulated device was asked for). */
    public static synchronized CudaContext requireGpu() {
        if (context == null && unavailable == null) {
            if (emulated()) {
                context = CudaContext.emulated();
                System.out.println("tessel tests: " + context.device() + " (emulated; no figure from it is a GPU figure)");
            } else {
                Backend b = Backend.detect();
                if (b instanceof Backend.Gpu g) context = g.context();
                else unavailable = b.describe();
            }
        }
        assumeTrue(context != null, () -> "no CUDA GPU: " + unavailable);
        context.bind();
        return context;
    }

    public static synchronized KernelCompiler compiler() {
        requireGpu();
        if (compiler == null) compiler = new KernelCompiler(context);
        return compiler;
    }

    /** Seeded uniform values in [lo, hi), rounded to {@code t}. */
    public static Tensor random(SplittableRandom r, DType t, Shape s, double lo, double hi) {
        float[] v = new float[Math.toIntExact(s.numElements())];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return Tensor.ofFloats(t, s, v);
    }

    public static Tensor random(SplittableRandom r, DType t, int... dims) { return random(r, t, Shape.of(dims), -1, 1); }

    /** The same values as f32 (for an f32 reference of a lower-precision run). */
    public static Tensor asF32(Tensor t) { return t.dtype() == DType.F32 ? t : Tensor.ofFloats(DType.F32, t.shape(), t.floats().clone()); }

    public static Map<String, Tensor> reference(Graph g, Map<String, Tensor> inputs) { return new ReferenceInterpreter().run(g, inputs); }

    /** A device buffer of {@code elements} elements of {@code t}, poisoned with all-ones bytes (NaN in every float type). */
    public static DeviceBuffer poisoned(DType t, long elements) {
        DeviceBuffer b = DeviceBuffer.allocate(elements * t.bytes());
        b.fill((byte) 0xFF);
        return b;
    }

    /** Default tolerance (relative L2) per element type: f32 1e-4, f16 1e-2, bf16 2e-2. */
    public static double tolerance(DType t) {
        return switch (t) {
            case F16 -> 1e-2;
            case BF16 -> 2e-2;
            default -> 1e-4;
        };
    }

    /** Measured error of one comparison. */
    public record Error(double maxAbs, double relL2, double maxRef, int nonFinite) {}

    public static Error error(Tensor got, Tensor ref) {
        if (got.size() != ref.size()) throw new AssertionError("sizes differ: got " + got.shape() + ", reference " + ref.shape());
        double num = 0, den = 0, maxAbs = 0, maxRef = 0;
        int bad = 0;
        for (int i = 0; i < got.size(); i++) {
            double g = got.getDouble(i), r = ref.getDouble(i);
            if (!Double.isFinite(g)) { bad++; continue; }
            double d = g - r;
            num += d * d;
            den += r * r;
            maxAbs = Math.max(maxAbs, Math.abs(d));
            maxRef = Math.max(maxRef, Math.abs(r));
        }
        return new Error(maxAbs, den == 0 ? Math.sqrt(num) : Math.sqrt(num / den), maxRef, bad);
    }

    /**
     * Asserts the GPU result matches the reference: every element finite (the output was poisoned
     * first), relative L2 error within {@code tol}, and no element off by more than
     * 10 * tol * max|ref|. Prints a RESULT line either way.
     */
    public static Error assertClose(String what, Tensor got, Tensor ref, double tol) {
        Error e = error(got, ref);
        boolean ok = e.nonFinite() == 0 && e.relL2() <= tol && e.maxAbs() <= 10 * tol * Math.max(e.maxRef(), 1e-6);
        System.out.printf("RESULT|%s|%s|%s|%.3e|%.3e|%.0e|%s%n", what, got.dtype().text(), got.shape(), e.maxAbs(), e.relL2(), tol, ok ? "ok" : "FAIL");
        assertTrue(ok, () -> what + ": max abs error " + e.maxAbs() + ", relative L2 " + e.relL2() + " (tolerance " + tol + "), "
                + e.nonFinite() + " non-finite of " + got.size() + "; first values got " + head(got) + " reference " + head(ref));
        return e;
    }

    private static String head(Tensor t) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(6, t.size()); i++) { if (i > 0) sb.append(", "); sb.append(t.getFloat(i)); }
        return sb.append(t.size() > 6 ? ", ...]" : "]").toString();
    }

    public static List<Integer> list(int... v) { return java.util.Arrays.stream(v).boxed().toList(); }

    /** Runs many cases and fails once at the end with every failure, so one GPU run reports them all. */
    public static final class Checks {
        private final java.util.List<String> failures = new java.util.ArrayList<>();
        private int count;

        public void check(String what, Runnable r) {
            count++;
            try {
                r.run();
            } catch (AssertionError | RuntimeException e) {
                System.out.println("RESULT|" + what + "|-|-|-|-|-|FAIL " + e.getClass().getSimpleName() + ": " + firstLine(e.getMessage()));
                failures.add(what + ": " + e);
            }
        }

        public void done() {
            if (!failures.isEmpty()) throw new AssertionError(failures.size() + " of " + count + " cases failed:\n" + String.join("\n", failures));
        }

        private static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }
    }

    /**
     * {@code tessel.conv.depthwise_nhwc} on case {n, c, h, w, kernel, stride, pad, dilation} at storage {@code t} (a bias,
     * ReLU6's clamp) against the reference interpreter; asserts that the 8-channel form runs exactly where it can (16-bit
     * storage, c a multiple of 8). {@code where} ends the check's name (" (emulated)", "").
     */
    public static void checkDepthwise(KernelCompiler kc, SplittableRandom r, DType t, int[] c, org.tessel.runtime.cuda.CudaStream s, String where) {
        int n = c[0], ch = c[1], h = c[2], w = c[3], k = c[4], st = c[5], p = c[6], dil = c[7];
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("dw");
        org.tessel.ir.Value x = b.input("x", DType.F32, n, ch, h, w), wt = b.input("w", DType.F32, ch, 1, k, k), bias = b.input("b", DType.F32, ch);
        Graph g = b.output(b.clip(b.conv(x, wt, bias, st, p, dil, ch), 0f, 6f)).build();
        Tensor xv = random(r, t, Shape.of(n, ch, h, w), -2, 2), wv = random(r, t, Shape.of(ch, 1, k, k), -1, 1), bv = random(r, t, Shape.of(ch), -1, 1);
        Tensor want = reference(g, Map.of("x", asF32(xv), "w", asF32(wv), "b", asF32(bv))).values().iterator().next();
        Shape os = want.shape();
        var shape = new org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc.Shape(n, h, w, ch, os.dim(2), os.dim(3), k, k, st, st, p, p, dil, dil);
        try (DeviceBuffer dx = HostTensors.upload(HostTensors.toChannelsLast(xv)); DeviceBuffer dw = HostTensors.upload(org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc.packWeights(wv));
             DeviceBuffer db = HostTensors.upload(bv); DeviceBuffer dy = poisoned(t, os.numElements())) {
            org.junit.jupiter.api.Assertions.assertEquals(t.bytes() == 2 && ch % 8 == 0, org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc.vectorized(t, shape, dx, dw, dy), "8 channels a thread");
            org.tessel.runtime.gpu.kernels.DepthwiseConvNhwc.run(kc, t, shape, dx, dw, db, dy, 0f, 6f, s);
            assertClose("tessel.conv.depthwise_nhwc " + t.text() + " " + java.util.Arrays.toString(c) + where,
                    HostTensors.fromChannelsLast(HostTensors.download(dy, t, os)), want, t == DType.F32 ? 1e-5 : tolerance(t));
        }
    }
}
