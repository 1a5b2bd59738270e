package org.tessel.runtime.gpu.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.ir.ops.WeightQuantizer;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.Gemv;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemv;

/**
 * The decode step's projections of llama-1b (hidden 2048, 32 heads / 4 KV heads of 64, FFN 5632, vocabulary 32000) at
 * batch 1 (M = 1), f16 activations: cuBLASLt's FP16 GEMM and {@code tessel.gemv} of the f16 weight against {@code tessel.gemv.weight_only} with
 * INT8 and INT4 codes (INT4 in the staged and the tensor-core forms, and at 8 activation rows in the plain and tensor-core forms) (group 128, f16 scales, symmetric). Per shape and kind: microseconds (median of 15 timed runs of
 * 50 launches each, CUDA events, after warm-up), the bytes it must read (weight, scales, activation; the output
 * written), achieved GB/s, and that as a percent of a measured device-to-device copy's bandwidth (read + write of
 * 512 MiB). Each run rotates over enough copies of the weight that they do not fit in L2, so the figures are HBM's.
 * Then one transformer layer's sum (q, k, v, o, gate, up, down) and the head. Last, the prefill's GEMMs at 128 and 512
 * rows: cuBLASLt FP16 against {@code tessel.gemm.weight_only}'s tiled and tensor-core forms on INT4 codes. Between them,
 * down_proj with the SiLU(gate) * up prologue a fused eltwise_gemm evaluates in its x loader, in f32 math and with CUDA's
 * intrinsics, against none.
 *
 * <p>Run: {@code java -cp <runtime classpath> org.tessel.runtime.gpu.bench.QuantizedGemvBench}.
 */
public final class QuantizedGemvBench {
    private QuantizedGemvBench() {}

    /** K x N of each projection, by name; the layer's seven projections use the first four shapes. */
    static final Map<String, int[]> SHAPES = new LinkedHashMap<>();
    static {
        SHAPES.put("q/o 2048x2048", new int[] {2048, 2048});
        SHAPES.put("k/v 2048x256 (GQA)", new int[] {2048, 256});
        SHAPES.put("gate/up 2048x5632", new int[] {2048, 5632});
        SHAPES.put("down 5632x2048", new int[] {5632, 2048});
        SHAPES.put("head 2048x32000", new int[] {2048, 32000});
    }
    /** How many times each shape appears in one layer (q, k, v, o, gate, up, down); the head is not in a layer. */
    static final int[] PER_LAYER = {2, 2, 2, 1, 0};
    static final String[] KINDS = {"fp16 cuBLASLt", "fp16 tessel.gemv", "w8 g128 gemv", "w4 g128 staged", "w4 g128 mma", "w4 M=8 plain", "w4 M=8 mma"};
    static final int GROUP = 128, LAUNCHES = 50, RUNS = 15;
    /** Weight bytes each timed run walks through at least (over L2's 50 MB on an H100/H200). */
    static final long ROTATE_BYTES = 256L << 20;

    public static void main(String[] args) {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("QuantizedGemvBench needs a CUDA GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        System.out.println("device: " + b.describe());
        SplittableRandom r = new SplittableRandom(14);
        double[][] us = new double[SHAPES.size()][KINDS.length];
        long[][] bytes = new long[SHAPES.size()][KINDS.length];
        boolean failed = false;
        try (CudaStream s = CudaStream.create(); KernelCompiler kc = new KernelCompiler(ctx); CublasLt lt = CublasLt.create();
             DeviceBuffer ws = DeviceBuffer.allocate(CublasLtGemm.WORKSPACE_BYTES)) {
            double copyGbs = copyBandwidth(s);
            System.out.printf("device-to-device copy: %.0f GB/s (read + write of 512 MiB)%n", copyGbs);
            int row = 0;
            for (Map.Entry<String, int[]> e : SHAPES.entrySet()) {
                int k = e.getValue()[0], n = e.getValue()[1];
                for (int kind = 0; kind < KINDS.length; kind++) {
                    try {
                        long[] b1 = new long[1];
                        us[row][kind] = time(kind, kc, lt, ws, s, k, n, r, b1);
                        bytes[row][kind] = b1[0];
                    } catch (RuntimeException ex) {
                        failed = true;
                        us[row][kind] = Double.NaN;
                        System.out.println(e.getKey() + " " + KINDS[kind] + " failed: " + ex);
                    }
                }
                row++;
            }
            System.out.printf("%n== llama-1b decode projections, M = 1, f16 activations; median of %d runs of %d launches (CUDA events), weights rotated past L2 ==%n", RUNS, LAUNCHES);
            System.out.printf("| %-20s | %-14s | %9s | %9s | %8s | %7s |%n", "shape (K x N)", "kind", "us", "MB read", "GB/s", "% copy");
            System.out.printf("|%s|%s|%s|%s|%s|%s|%n", "-".repeat(22), "-".repeat(16), "-".repeat(11), "-".repeat(11), "-".repeat(10), "-".repeat(9));
            row = 0;
            for (String name : SHAPES.keySet()) {
                for (int kind = 0; kind < KINDS.length; kind++) {
                    double gbs = bytes[row][kind] / us[row][kind] / 1e3;
                    System.out.printf("| %-20s | %-14s | %9.2f | %9.2f | %8.0f | %6.1f%% |%n", name, KINDS[kind], us[row][kind], bytes[row][kind] / 1e6, gbs, 100 * gbs / copyGbs);
                }
                row++;
            }
            System.out.println();
            for (int kind = 0; kind < KINDS.length; kind++) {
                double layer = 0, layerBytes = 0;
                for (int i = 0; i < PER_LAYER.length; i++) {
                    layer += PER_LAYER[i] * us[i][kind];
                    layerBytes += PER_LAYER[i] * bytes[i][kind];
                }
                System.out.printf("whole layer (q, k, v, o, gate, up, down), %-14s: %8.2f us, %6.2f MB, %5.0f GB/s; x22 layers + head: %8.1f us%n", KINDS[kind], layer, layerBytes / 1e6,
                        layerBytes / layer / 1e3, 22 * layer + us[SHAPES.size() - 1][kind]);
            }
            failed |= prologue(kc, s, r, copyGbs);
            failed |= prefill(kc, lt, ws, s, r);
        }
        if (failed) System.exit(1);
    }

    /** SiLU(gate) * up, llama's MLP before down_proj, as a GEMV's x loader evaluates it; {@code fast}: with CUDA's intrinsics (as under f16 and bf16). */
    public static Gemv.Prologue siluMulPrologue(boolean fast) {
        var reg = org.tessel.api.OpRegistry.global();
        var g = new org.tessel.ir.Graph("silu_mul");
        var type = org.tessel.api.TensorType.of(DType.F32, org.tessel.api.Shape.of(1, 64));
        var gate = g.addInput("gate", type);
        var up = g.addInput("up", type);
        var sig = g.addNode(reg.get("Sigmoid"), "sig", List.of(gate), org.tessel.api.Attributes.empty(), 1).output();
        var act = g.addNode(reg.get("Mul"), "act", List.of(gate, sig), org.tessel.api.Attributes.empty(), 1).output();
        var prod = g.addNode(reg.get("Mul"), "prod", List.of(act, up), org.tessel.api.Attributes.empty(), 1).output();
        return new Gemv.Prologue(org.tessel.runtime.gpu.kernels.EltwiseCodegen.inlineOps(g.nodes(), g.inputs(), Map.of(), prod, "const float r", "        ", fast), 2);
    }

    /**
     * down_proj (K 5632, N 2048, M 1, f16) in tessel.gemv on the f16 weight and tessel.gemv.weight_only's staged form
     * (loading a lane's 8 chunks of a row at once, and 4 a round as before) and tensor-core form on INT4 codes, each with no prologue (x read as it is) and with SiLU(gate) * up evaluated by its
     * x loader in f32 math and with CUDA's intrinsics: what the fused prologue costs each form. True when one failed.
     */
    static boolean prologue(KernelCompiler kc, CudaStream s, SplittableRandom r, double copyGbs) {
        boolean failed = false;
        int k = 5632, n = 2048;
        System.out.printf("%n== llama-1b down_proj 5632x2048, M = 1, f16: the fused SiLU(gate) * up prologue; median of %d runs of %d launches, weights rotated past L2 ==%n", RUNS, LAUNCHES);
        System.out.printf("| %-16s | %-22s | %9s | %7s |%n", "kind", "prologue", "us", "% copy");
        System.out.printf("|%s|%s|%s|%s|%n", "-".repeat(18), "-".repeat(24), "-".repeat(11), "-".repeat(9));
        // the staged form as it loads codes now (a lane's whole share of the row, 8 chunks) and as before (4 chunks a round)
        String[] kinds = {"fp16 tessel.gemv", "w4 g128 staged", "w4 staged 4/round", "w4 g128 mma"};
        String[] prologues = {"none", "silu*up, f32 math", "silu*up, intrinsics"};
        for (int kind = 0; kind < kinds.length; kind++)
            for (int pi = 0; pi < prologues.length; pi++) {
                List<DeviceBuffer> owned = new ArrayList<>();
                double us;
                long[] bytes = new long[1];
                try {
                    Gemv.Prologue pro = pi == 0 ? null : siluMulPrologue(pi == 2);
                    List<DeviceBuffer> xs = new ArrayList<>();
                    for (int i = 0; i < (pro == null ? 1 : 2); i++)
                        xs.add(own(owned, HostTensors.upload(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(1, k), random(r, k, 1)), DType.F16)));
                    DeviceBuffer y = own(owned, DeviceBuffer.allocate(2L * n));
                    Runnable[] launches;
                    long weightBytes;
                    if (kind == 0) {
                        weightBytes = 2L * k * n;
                        DeviceBuffer w0 = own(owned, HostTensors.upload(Gemv.packWeights(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(k, n), random(r, k * n, 0.02))), DType.F16));
                        launches = rotated(owned, w0, weightBytes, w -> () -> Gemv.launch(kc, DType.F16, 1, n, k, pro, null, xs, w, null, null, y, s));
                    } else {
                        WeightQuantizer.Quantized q = WeightQuantizer.quantize(random(r, k * n, 0.02), k, n, new WeightQuantizer.Format(4, GROUP, true), DType.F16);
                        DeviceBuffer c0 = own(owned, HostTensors.uploadBytes(q.codes())), sc = own(owned, HostTensors.upload(q.scales(), DType.F16));
                        weightBytes = q.codes().size() + 2L * q.scales().size();
                        WeightOnlyGemv.Form form = kind == 3 ? WeightOnlyGemv.Form.MMA : WeightOnlyGemv.Form.STAGED;
                        int unroll = kind == 2 ? 4 : 0;
                        launches = rotated(owned, c0, weightBytes, c -> () -> WeightOnlyGemv.launch(kc, DType.F16, DType.F16, 4, GROUP, 1, n, k, pro, null, xs, c, sc, null, null, null, null, y, s, form, unroll));
                    }
                    us = measure(launches, s, bytes, weightBytes + 2L * xs.size() * k + 2L * n);
                } catch (RuntimeException ex) {
                    failed = true;
                    us = Double.NaN;
                    System.out.println(kinds[kind] + " " + prologues[pi] + " failed: " + ex);
                } finally {
                    for (DeviceBuffer d : owned) d.close();
                }
                System.out.printf("| %-16s | %-22s | %9.2f | %6.1f%% |%n", kinds[kind], prologues[pi], us, 100 * (bytes[0] / us / 1e3) / copyGbs);
            }
        return failed;
    }

    /**
     * The prefill's kinds: cuBLASLt's FP16 GEMM of the f16 weight, and tessel.gemm.weight_only's two forms on its INT4
     * codes, the tensor-core form in K slices of 32 and of 64, and the dequant form (the weight dequantized, then cuBLASLt).
     */
    static final String[] PREFILL_KINDS = {"fp16 cuBLASLt", "w4 g128 tiled", "w4 g128 mma", "w4 g128 mma k64", "w4 g128 dequant"};

    /**
     * The prefill's projections at 128 and 512 activation rows (a prompt chunk): microseconds per launch (median, as
     * above; no rotation: the GEMMs are bound by arithmetic) and TFLOP/s (2 M N K). True when a kind failed.
     */
    static boolean prefill(KernelCompiler kc, CublasLt lt, DeviceBuffer ws, CudaStream s, SplittableRandom r) {
        boolean failed = false;
        System.out.printf("%n== llama-1b prefill projections, f16 activations, INT4 group 128: tessel.gemm.weight_only's forms against cuBLASLt FP16 ==%n");
        System.out.printf("| %-20s | %5s | %-14s | %9s | %8s |%n", "shape (K x N)", "M", "kind", "us", "TFLOP/s");
        System.out.printf("|%s|%s|%s|%s|%s|%n", "-".repeat(22), "-".repeat(7), "-".repeat(16), "-".repeat(11), "-".repeat(10));
        for (int m : new int[] {128, 512})
            for (Map.Entry<String, int[]> e : SHAPES.entrySet()) {
                int k = e.getValue()[0], n = e.getValue()[1];
                for (int kind = 0; kind < PREFILL_KINDS.length; kind++) {
                    double us;
                    try {
                        us = timePrefill(kind, kc, lt, ws, s, m, k, n, r);
                    } catch (RuntimeException ex) {
                        failed = true;
                        us = Double.NaN;
                        System.out.println(e.getKey() + " M=" + m + " " + PREFILL_KINDS[kind] + " failed: " + ex);
                    }
                    System.out.printf("| %-20s | %5d | %-14s | %9.2f | %8.1f |%n", e.getKey(), m, PREFILL_KINDS[kind], us, 2.0 * m * n * k / us / 1e6);
                }
            }
        return failed;
    }

    static double timePrefill(int kind, KernelCompiler kc, CublasLt lt, DeviceBuffer ws, CudaStream s, int m, int k, int n, SplittableRandom r) {
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            DeviceBuffer x = own(owned, HostTensors.upload(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(m, k), random(r, m * k, 1)), DType.F16));
            DeviceBuffer y = own(owned, DeviceBuffer.allocate(2L * m * n));
            long[] bytes = new long[1];
            if (kind == 0) {
                DeviceBuffer w = own(owned, HostTensors.upload(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(k, n), random(r, k * n, 0.02)), DType.F16));
                CublasLtGemm g = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(m, n, k, false, CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 1);
                try {
                    return measure(new Runnable[] {() -> g.run(x, w, y, ws, s)}, s, bytes, 0);
                } finally {
                    g.close();
                }
            }
            WeightQuantizer.Quantized q = WeightQuantizer.quantize(random(r, k * n, 0.02), k, n, new WeightQuantizer.Format(4, GROUP, true), DType.F16);
            DeviceBuffer c = own(owned, HostTensors.uploadBytes(q.codes())), sc = own(owned, HostTensors.upload(q.scales(), DType.F16));
            if (kind == 4) { // dequantized into a scratch, then cuBLASLt's FP16 GEMM of the transposed weight
                DeviceBuffer scratch = own(owned, DeviceBuffer.allocate(WeightOnlyGemm.dequantWorkspaceBytes(DType.F16, n, k)));
                CublasLtGemm g = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(m, n, k, true, CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 1);
                try {
                    return measure(new Runnable[] {() -> WeightOnlyGemm.dequantThenGemm(kc, g, 0, DType.F16, DType.F16, 4, GROUP, m, n, k, x, c, sc, null, y, scratch, s)}, s, bytes, 0);
                } finally {
                    g.close();
                }
            }
            WeightOnlyGemm.Form form = kind == 1 ? WeightOnlyGemm.Form.TILED : WeightOnlyGemm.Form.MMA;
            int slice = kind == 3 ? WeightOnlyGemm.MMA_WIDE_SLICE : WeightOnlyGemm.MMA_SLICE;
            return measure(new Runnable[] {() -> WeightOnlyGemm.run(kc, DType.F16, DType.F16, 4, GROUP, m, n, k, x, c, sc, null, y, s, form, slice)}, s, bytes, 0);
        } finally {
            for (DeviceBuffer d : owned) d.close();
        }
    }

    /** Bytes per second of a device-to-device copy (read + write), median of 10. */
    static double copyBandwidth(CudaStream s) {
        long size = 512L << 20;
        try (DeviceBuffer a = DeviceBuffer.allocate(size); DeviceBuffer c = DeviceBuffer.allocate(size)) {
            a.fill((byte) 0x3C);
            double[] ms = new double[10];
            for (int i = 0; i < 13; i++) {
                try (CudaEvent e0 = new CudaEvent(); CudaEvent e1 = new CudaEvent()) {
                    e0.record(s);
                    c.copyFromAsync(a, s);
                    e1.record(s);
                    e1.synchronize();
                    if (i >= 3) ms[i - 3] = e1.elapsedSince(e0);
                }
            }
            Arrays.sort(ms);
            return 2.0 * size / ms[ms.length / 2] / 1e6;
        }
    }

    /** Median microseconds of one launch of {@code kind} at K x N; {@code bytesOut[0]} gets the bytes it moves. */
    static double time(int kind, KernelCompiler kc, CublasLt lt, DeviceBuffer ws, CudaStream s, int k, int n, SplittableRandom r, long[] bytesOut) {
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            // kinds 5 and 6: 8 activation rows (a batch-8 decode step), one pass over the weights
            int m = kind >= 5 ? 8 : 1;
            DeviceBuffer x = own(owned, HostTensors.upload(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(m, k), random(r, m * k, 1)), DType.F16));
            DeviceBuffer y = own(owned, DeviceBuffer.allocate(2L * m * n));
            Runnable[] launches;
            long weightBytes;
            if (kind == 1) {
                weightBytes = 2L * k * n;
                DeviceBuffer w0 = own(owned, HostTensors.upload(Gemv.packWeights(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(k, n), random(r, k * n, 0.02))), DType.F16));
                launches = rotated(owned, w0, weightBytes, w -> () -> Gemv.launch(kc, DType.F16, 1, n, k, x, w, y, s));
                return measure(launches, s, bytesOut, weightBytes + 2L * k + 2L * n);
            }
            if (kind == 0) {
                weightBytes = 2L * k * n;
                DeviceBuffer w0 = own(owned, HostTensors.upload(org.tessel.api.Tensor.ofFloats(DType.F16, org.tessel.api.Shape.of(k, n), random(r, k * n, 0.02)), DType.F16));
                CublasLtGemm g = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(1, n, k, false, CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 1);
                launches = rotated(owned, w0, weightBytes, w -> () -> g.run(x, w, y, ws, s));
                try {
                    return measure(launches, s, bytesOut, weightBytes + 2L * k + 2L * n);
                } finally {
                    g.close();
                }
            }
            int bits = kind == 2 ? 8 : 4;
            WeightQuantizer.Quantized q = WeightQuantizer.quantize(random(r, k * n, 0.02), k, n, new WeightQuantizer.Format(bits, GROUP, true), DType.F16);
            DeviceBuffer c0 = own(owned, HostTensors.uploadBytes(q.codes())), sc = own(owned, HostTensors.upload(q.scales(), DType.F16));
            weightBytes = q.codes().size() + 2L * q.scales().size();
            // INT4 at one row in its staged form (f32 x in shared memory, codes converted one by one) and its tensor-core
            // form; at 8 rows in its plain form (each row's sums in registers) and its tensor-core form; INT8 in the default form
            WeightOnlyGemv.Form form = switch (kind) {
                case 3 -> WeightOnlyGemv.Form.STAGED;
                case 4, 6 -> WeightOnlyGemv.Form.MMA;
                case 5 -> WeightOnlyGemv.Form.PLAIN;
                default -> WeightOnlyGemv.form(DType.F16, bits, false, GROUP, k, WeightOnlyGemv.rowsPerPass(m));
            };
            launches = rotated(owned, c0, weightBytes, c -> () -> WeightOnlyGemv.launch(kc, DType.F16, DType.F16, bits, GROUP, m, n, k, null, null, List.of(x), c, sc, null, null, null, null, y, s, form));
            return measure(launches, s, bytesOut, weightBytes + 2L * m * k + 2L * m * n);
        } finally {
            for (DeviceBuffer d : owned) d.close();
        }
    }

    static double measure(Runnable[] launches, CudaStream s, long[] bytesOut, long bytes) {
        bytesOut[0] = bytes;
        CudaStream.DEFAULT.synchronize(); // the uploads and copies ran on the legacy stream, which s does not wait for
        for (int i = 0; i < 2 * launches.length; i++) launches[i % launches.length].run();
        s.synchronize();
        double[] us = new double[RUNS];
        for (int run = 0; run < RUNS; run++) {
            try (CudaEvent e0 = new CudaEvent(); CudaEvent e1 = new CudaEvent()) {
                e0.record(s);
                for (int i = 0; i < LAUNCHES; i++) launches[(run * LAUNCHES + i) % launches.length].run();
                e1.record(s);
                e1.synchronize();
                us[run] = e1.elapsedSince(e0) * 1e3 / LAUNCHES;
            }
        }
        Arrays.sort(us);
        return us[RUNS / 2];
    }

    /**
     * One launch per copy of the weight {@code w0} (itself the first; the others copies, owned), enough copies of
     * {@code weightBytes} each that a run's rotation over them does not fit in L2.
     */
    static Runnable[] rotated(List<DeviceBuffer> owned, DeviceBuffer w0, long weightBytes, java.util.function.Function<DeviceBuffer, Runnable> launch) {
        Runnable[] launches = new Runnable[copies(weightBytes)];
        for (int i = 0; i < launches.length; i++) launches[i] = launch.apply(i == 0 ? w0 : own(owned, copyOf(w0)));
        return launches;
    }

    static int copies(long weightBytes) { return (int) Math.max(2, Math.min(256, (ROTATE_BYTES + weightBytes - 1) / weightBytes)); }

    static DeviceBuffer own(List<DeviceBuffer> owned, DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    static DeviceBuffer copyOf(DeviceBuffer b) {
        DeviceBuffer c = DeviceBuffer.allocate(b.bytes());
        c.copyFrom(b);
        return c;
    }

    static float[] random(SplittableRandom r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }
}
