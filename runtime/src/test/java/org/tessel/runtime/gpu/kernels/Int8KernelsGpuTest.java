package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.cuda.ffm.MissingLibraryException;
import org.tessel.runtime.engine.PrecisionEmulation;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;

/**
 * The INT8 kernel layer on the GPU: quantize / dequantize exactly as PrecisionEmulation, the
 * cuBLASLt int8 GEMM's int32 sums exactly equal to a Java integer reference (BERT-base's FFN shape
 * among them), both INT8 convolutions (cuDNN's INT8_EXT_CONFIG and Tessel's dp4a kernel) exact on
 * ResNet's 3x3 conv and odd strided / dilated cases, and the epilogue (per-channel scale, bias,
 * ReLU; int8 within one code, floats within 1e-3 relative) against the same formula on the host.
 * Each check prints a RESULT line.
 */
@Tag("gpu")
class Int8KernelsGpuTest {
    static final CudaStream S = CudaStream.DEFAULT;

    /**
     * Element-by-element comparison: an element is off when |got - want| exceeds {@code absTol} +
     * {@code relTol} |want| (0 and 0: exact). {@link #report} prints a RESULT line in the suite's
     * columns (what | type | detail | max abs difference | fraction off | tolerance | ok) and fails
     * when any element is off.
     */
    static final class Tally {
        final double absTol, relTol;
        long total, bad;
        double maxDiff;
        String first = "";

        Tally(double absTol, double relTol) { this.absTol = absTol; this.relTol = relTol; }

        void add(long i, double got, double want) { add(i, got, want, ""); }

        void add(long i, double got, double want, String context) {
            total++;
            double d = Math.abs(got - want);
            if (!(d <= absTol + relTol * Math.abs(want))) {
                if (bad++ == 0) first = "at " + i + ": got " + got + " want " + want + (context.isEmpty() ? "" : " (" + context + ")");
                if (Double.isNaN(d)) d = Double.POSITIVE_INFINITY;
            }
            maxDiff = Math.max(maxDiff, d);
        }

        void report(String what, String type, String detail) {
            boolean ok = bad == 0 && total > 0;
            System.out.printf("RESULT|%s|%s|%s|%.3e|%.3e|%s|%s%n", what, type, detail, maxDiff, total == 0 ? 1.0 : (double) bad / total,
                    relTol > 0 ? relTol + " rel" : absTol > 0 ? absTol + " abs" : "exact", ok ? "ok" : "FAIL");
            assertTrue(ok, () -> what + ": " + bad + " of " + total + " elements differ from the reference (max difference " + maxDiff + "); first " + first);
        }
    }

    /** Average milliseconds of {@code r} on the default stream (one warm-up, then 10 runs between events); prints an info RESULT line. */
    static void time(String what, double ops, Runnable r) {
        r.run();
        try (CudaEvent start = new CudaEvent(); CudaEvent end = new CudaEvent()) {
            start.record(S);
            for (int i = 0; i < 10; i++) r.run();
            end.record(S);
            end.synchronize();
            double ms = end.elapsedSince(start) / 10.0;
            System.out.printf("RESULT|%s timing|-|%.4f ms, %.1f TOPS|-|-|-|info%n", what, ms, ops / (ms * 1e-3) / 1e12);
        }
    }

    static byte[] randomCodes(SplittableRandom r, long n) {
        byte[] b = new byte[Math.toIntExact(n)];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (r.nextInt(255) - 127);
        return b;
    }

    static float[] randomFloats(SplittableRandom r, int n, double lo, double hi) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return f;
    }

    // ---- quantize / dequantize ------------------------------------------------------------

    @Test void quantizeAndDequantizeMatchPrecisionEmulation() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(81);
        int n = 100_003;
        float scale = 0.0173f;
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            float[] v = randomFloats(r, n, -3, 3);
            // exact halves (ties to even), values past the clamp, zeros, infinities and a NaN
            for (int i = 0; i < 200; i++) v[i] = (i - 100 + 0.5f) * scale;
            v[200] = 1e6f; v[201] = -1e6f; v[202] = 0f; v[203] = -0f; v[204] = Float.POSITIVE_INFINITY; v[205] = Float.NEGATIVE_INFINITY; v[206] = Float.NaN;
            Tensor x = Tensor.ofFloats(t, Shape.of(n), v);
            checks.check("tessel.quantize_i8 " + t.text(), () -> {
                try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dq = DeviceBuffer.allocate(n)) {
                    dq.fill((byte) 0x55);
                    Quantize.run(kc, t, dx, dq, scale, n, S);
                    byte[] got = new byte[n];
                    dq.copyTo(got);
                    Tally tally = new Tally(0, 0);
                    for (int i = 0; i < n; i++) tally.add(i, got[i], PrecisionEmulation.quantize(x.getFloat(i), scale), "x " + x.getFloat(i));
                    tally.report("tessel.quantize_i8 " + t.text(), "i8", "n=" + n + " scale=" + scale);
                }
            });
            checks.check("tessel.dequantize_i8 " + t.text(), () -> {
                byte[] codes = randomCodes(r, n);
                try (DeviceBuffer dq = DeviceBuffer.ofBytes(codes); DeviceBuffer dy = GpuTestSupport.poisoned(t, n)) {
                    Dequantize.run(kc, t, dq, dy, scale, n, S);
                    Tensor got = HostTensors.download(dy, t, Shape.of(n));
                    Tally tally = new Tally(0, 0);
                    for (int i = 0; i < n; i++) tally.add(i, got.getFloat(i), Tensor.round(t, codes[i] * scale), "code " + codes[i]);
                    tally.report("tessel.dequantize_i8 " + t.text(), t.text(), "n=" + n + " scale=" + scale);
                }
            });
        }
        checks.done();
    }

    // ---- epilogue checks shared by GEMM and conv ------------------------------------------

    /** One epilogue variant: output type, bias, ReLU. */
    record Variant(DType out, boolean bias, boolean relu) {
        String name() { return out.text() + (bias ? "+bias" : "") + (relu ? "+relu" : ""); }
    }

    static final Variant[] VARIANTS = {
        new Variant(DType.I8, true, true), new Variant(DType.I8, false, false), new Variant(DType.F32, true, false),
        new Variant(DType.F16, false, true), new Variant(DType.BF16, true, true)};

    /**
     * Runs {@code run} (the whole GEMM or conv, given the epilogue's parameters and output buffer)
     * and compares its output with the epilogue formula on the reference sums {@code sums}
     * [rows, channels]: int8 within one code, floats within 1e-3 relative.
     */
    static void checkEpilogue(String what, Int8Epilogue.Accumulator accType, long[] sums, long rows, int channels,
                              float[] chScales, float[] bias, Variant v, BiConsumer<Int8Epilogue.Params, DeviceBuffer> run) {
        int n = Math.toIntExact(rows * channels);
        float[] ref = new float[n];
        float amax = 0;
        for (int i = 0; i < n; i++) {
            int c = i % channels;
            ref[i] = Int8Epilogue.reference(sums[i], chScales[c], bias[c], v.bias(), v.relu());
            amax = Math.max(amax, Math.abs(ref[i]));
        }
        float outScale = amax > 0 ? amax / 120f : 1f; // the largest outputs saturate at +-127
        try (DeviceBuffer ds = DeviceBuffer.ofFloats(chScales); DeviceBuffer db = DeviceBuffer.ofFloats(bias);
             DeviceBuffer dy = GpuTestSupport.poisoned(v.out(), n)) {
            Int8Epilogue.Params p = new Int8Epilogue.Params(ds, v.bias() ? db : null, v.relu(), v.out(), outScale);
            run.accept(p, dy);
            Tally tally;
            if (v.out() == DType.I8) {
                tally = new Tally(1, 0);
                byte[] got = new byte[n];
                dy.copyTo(got);
                for (int i = 0; i < n; i++) tally.add(i, got[i], Int8Epilogue.referenceCode(ref[i], outScale));
            } else {
                tally = new Tally(0, 1e-3);
                Tensor got = HostTensors.download(dy, v.out(), Shape.of(n));
                for (int i = 0; i < n; i++) tally.add(i, got.getFloat(i), Tensor.round(v.out(), ref[i]));
            }
            tally.report(what + " epilogue " + v.name(), v.out().text(),
                    accType + " acc, [" + rows + ", " + channels + "]" + (v.out() == DType.I8 ? " outScale=" + outScale : ""));
        }
    }

    // ---- int8 GEMM ------------------------------------------------------------------------

    static final int[][] GEMM_SHAPES = {{64, 96, 128}, {33, 72, 40}, {4096, 3072, 768}};

    /** Java reference: sums[m, n] = sum_k x[m, k] w[n, k] in integers. */
    static long[] gemmReference(byte[] x, byte[] w, int m, int n, int k) {
        long[] out = new long[m * n];
        IntStream.range(0, m).parallel().forEach(i -> {
            for (int j = 0; j < n; j++) {
                long s = 0;
                int xo = i * k, wo = j * k;
                for (int kk = 0; kk < k; kk++) s += x[xo + kk] * w[wo + kk];
                out[i * n + j] = s;
            }
        });
        return out;
    }

    @Test void int8GemmSumsAreExactAndTheEpilogueMatches() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(82);
        try (CublasLt lt = CublasLt.create(); DeviceBuffer ws = DeviceBuffer.allocate(Int8Gemm.WORKSPACE_BYTES)) {
            System.out.println("RESULT|cuBLASLt version " + lt.version() + " from " + lt.nativeLibrary().path() + "|-|-|-|-|-|info");
            for (int[] sh : GEMM_SHAPES) {
                int m = sh[0], n = sh[1], k = sh[2];
                String what = "cublaslt.gemm.int8 " + m + "x" + n + "x" + k;
                // activations quantized per tensor, weights per channel from float weights [K, N]
                float[] xf = randomFloats(r, m * k, -2, 2);
                float sa = 2f / 127f;
                byte[] x = new byte[m * k];
                for (int i = 0; i < x.length; i++) x[i] = (byte) PrecisionEmulation.quantize(xf[i], sa);
                Tensor wf = Tensor.ofFloats(DType.F32, Shape.of(k, n), randomFloats(r, k * n, -0.3, 0.3));
                Int8Weights w = Int8Weights.forGemm(wf, false);
                float[] chScales = w.outputScales(sa), bias = randomFloats(r, n, -1, 1);
                long[] sums = gemmReference(x, w.codes(), m, n, k);
                checks.check(what + " plan", () -> {
                    try (DeviceBuffer dx = DeviceBuffer.ofBytes(x); DeviceBuffer dw = DeviceBuffer.ofBytes(w.codes());
                         DeviceBuffer acc = DeviceBuffer.allocate((long) m * n * 4);
                         Int8Gemm gemm = Int8Gemm.plan(lt, new Int8Gemm.Spec(m, n, k), 8)) {
                        for (int a = 0; a < Math.min(3, gemm.algos().size()); a++) {
                            int algo = a;
                            checks.check(what + " int32 algo " + algo, () -> {
                                acc.fill((byte) 0x7F);
                                gemm.runInt32(algo, dx, dw, acc, ws, S);
                                int[] got = new int[m * n];
                                acc.copyTo(got);
                                Tally tally = new Tally(0, 0);
                                for (int i = 0; i < got.length; i++) tally.add(i, got[i], sums[i]);
                                tally.report(what + " int32 algo " + algo, "i32", "[" + m + ", " + n + "], " + gemm.algos().size() + " algos, workspace "
                                        + gemm.algos().get(algo).workspaceBytes());
                            });
                        }
                        time(what + " int32", 2.0 * m * n * k, () -> gemm.runInt32(0, dx, dw, acc, ws, S));
                        for (Variant v : VARIANTS) {
                            checks.check(what + " epilogue " + v.name(), () -> checkEpilogue(what, Int8Epilogue.Accumulator.INT32, sums, m, n, chScales, bias, v,
                                    (p, y) -> gemm.run(kc, dx, dw, acc, p, y, ws, S)));
                        }
                    }
                });
            }
            checks.check("cublaslt.gemm.int8 refuses K=30", () -> {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Int8Gemm.Spec(5, 8, 30));
                boolean ok = e.getMessage().contains("K = 30") && e.getMessage().contains("multiple of 4");
                System.out.println("RESULT|cublaslt.gemm.int8 refuses 5x8x30|-|" + e.getMessage() + "|-|-|-|" + (ok ? "ok" : "FAIL"));
                assertTrue(ok, e.getMessage());
            });
        }
        checks.done();
    }

    // ---- int8 convolution -----------------------------------------------------------------

    /** n, c, h, w, k, r, s, pad, stride, dilation. */
    static final int[][] CONV_SHAPES = {
        {1, 64, 56, 56, 64, 3, 3, 1, 1, 1},   // ResNet-50's 3x3 conv of stage 1
        {2, 8, 9, 7, 12, 3, 3, 1, 2, 1},      // odd sizes, stride 2
        {1, 32, 14, 14, 16, 1, 1, 0, 1, 1},   // 1x1
        {1, 4, 11, 13, 8, 3, 3, 2, 1, 2},     // dilation 2
        {3, 20, 17, 10, 68, 5, 3, 1, 1, 1},   // tiles cut in both directions; c/4 = 5 words, odd against the 8-word steps
    };

    /** Java reference over NHWC x and KRSC w: sums [n, p, q, k]. */
    static long[] convReference(byte[] x, byte[] w, Int8Conv.Spec s) {
        int p = s.outH(), q = s.outW();
        long[] out = new long[Math.toIntExact(s.outputElements())];
        IntStream.range(0, s.n() * p).parallel().forEach(np -> {
            int nn = np / p, op = np % p;
            for (int oq = 0; oq < q; oq++)
                for (int kk = 0; kk < s.k(); kk++) {
                    long sum = 0;
                    for (int rr = 0; rr < s.r(); rr++) {
                        int ih = op * s.strideH() - s.padH() + rr * s.dilationH();
                        if (ih < 0 || ih >= s.h()) continue;
                        for (int ss = 0; ss < s.s(); ss++) {
                            int iw = oq * s.strideW() - s.padW() + ss * s.dilationW();
                            if (iw < 0 || iw >= s.w()) continue;
                            int xo = ((nn * s.h() + ih) * s.w() + iw) * s.c(), wo = ((kk * s.r() + rr) * s.s() + ss) * s.c();
                            for (int cc = 0; cc < s.c(); cc++) sum += x[xo + cc] * w[wo + cc];
                        }
                    }
                    out[((nn * p + op) * q + oq) * s.k() + kk] = sum;
                }
        });
        return out;
    }

    @Test void int8ConvSumsAreExactAndTheEpilogueMatches() {
        GpuTestSupport.requireGpu();
        KernelCompiler kc = GpuTestSupport.compiler();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(83);
        Cudnn cudnn = null;
        try {
            cudnn = Cudnn.create();
            System.out.println("RESULT|cuDNN version " + cudnn.version() + " from " + cudnn.nativeLibrary().path() + "|-|-|-|-|-|info");
        } catch (MissingLibraryException e) {
            System.out.println("RESULT|cudnn.conv.fused_bias_act/int8|-|" + e.getMessage() + "|-|-|-|skipped");
        }
        try {
            for (int[] c : CONV_SHAPES) {
                Int8Conv.Spec spec = new Int8Conv.Spec(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[7], c[8], c[8], c[9], c[9]);
                float sa = 1.5f / 127f;
                float[] xf = randomFloats(r, Math.toIntExact(spec.inputElements()), -1.5, 1.5);
                byte[] x = new byte[xf.length];
                for (int i = 0; i < x.length; i++) x[i] = (byte) PrecisionEmulation.quantize(xf[i], sa);
                Tensor wf = Tensor.ofFloats(DType.F32, Shape.of(spec.k(), spec.c(), spec.r(), spec.s()),
                        randomFloats(r, Math.toIntExact(spec.filterElements()), -0.5, 0.5));
                Int8Weights w = Int8Weights.forConv(wf);
                float[] chScales = w.outputScales(sa), bias = randomFloats(r, spec.k(), -1, 1);
                long[] sums = convReference(x, w.codes(), spec);
                for (Int8Conv.Backend backend : Int8Conv.Backend.values()) {
                    if (backend == Int8Conv.Backend.CUDNN && cudnn == null) continue;
                    if (backend == Int8Conv.Backend.CUDNN && spec.dilationH() != 1) {
                        // cuDNN answers NOT_SUPPORTED for a dilated int8 convolution: refused before any library call, named
                        Cudnn cd = cudnn;
                        checks.check("cudnn.conv.fused_bias_act/int8 refuses dilation " + c[9], () -> {
                            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Int8Conv.cudnn(cd, spec));
                            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("takes no dilation"), e.getMessage());
                        });
                        continue;
                    }
                    String what = (switch (backend) { case CUDNN -> "cudnn.conv.fused_bias_act/int8 "; case TESSEL_DP4A -> "tessel.conv.int8_dp4a "; case TESSEL_DP4A_DIRECT -> "tessel.conv.int8_dp4a (direct form) "; })
                            + "n" + c[0] + "c" + c[1] + "h" + c[2] + "w" + c[3] + "k" + c[4] + "r" + c[5] + "s" + c[6] + " pad" + c[7] + " stride" + c[8] + " dil" + c[9];
                    Cudnn cd = cudnn;
                    checks.check(what, () -> {
                        try (Int8Conv conv = switch (backend) { case CUDNN -> Int8Conv.cudnn(cd, spec); case TESSEL_DP4A -> Int8Conv.tessel(spec); case TESSEL_DP4A_DIRECT -> Int8Conv.tesselDirect(spec); };
                             DeviceBuffer dx = DeviceBuffer.ofBytes(x); DeviceBuffer dw = DeviceBuffer.ofBytes(w.codes());
                             DeviceBuffer acc = DeviceBuffer.allocate(conv.accumulatorBytes());
                             DeviceBuffer ws = DeviceBuffer.allocate(Math.max(conv.workspaceSize(), 256))) {
                            acc.fill((byte) 0x7F);
                            conv.runAccumulate(kc, dx, dw, acc, ws, S);
                            int total = sums.length;
                            Tally tally = new Tally(0, 0);
                            if (conv.accumulator() == Int8Epilogue.Accumulator.INT32) {
                                int[] got = new int[total];
                                acc.copyTo(got);
                                for (int i = 0; i < total; i++) tally.add(i, got[i], sums[i]);
                            } else {
                                float[] got = new float[total];
                                acc.copyTo(got);
                                for (int i = 0; i < total; i++) tally.add(i, got[i], sums[i]);
                            }
                            tally.report(what + " sums", conv.accumulator().dtype().text(), "[" + spec.outputRows() + ", " + spec.k() + "], workspace " + conv.workspaceSize());
                            time(what + " sums", 2.0 * spec.outputElements() * spec.c() * spec.r() * spec.s(), () -> conv.runAccumulate(kc, dx, dw, acc, ws, S));
                            for (Variant v : VARIANTS)
                                checkEpilogue(what, conv.accumulator(), sums, spec.outputRows(), spec.k(), chScales, bias, v,
                                        (p, y) -> conv.run(kc, dx, dw, acc, p, y, ws, S));
                        }
                    });
                }
            }
            checks.check("int8 conv refuses C=3", () -> {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Int8Conv.Spec(1, 3, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1));
                boolean ok = e.getMessage().contains("C = 3") && e.getMessage().contains("multiple of 4");
                System.out.println("RESULT|int8 conv refuses C=3|-|" + e.getMessage() + "|-|-|-|" + (ok ? "ok" : "FAIL"));
                assertTrue(ok, e.getMessage());
            });
        } finally {
            if (cudnn != null) cudnn.close();
        }
        checks.done();
    }
}
