package org.tessel.runtime.gpu.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.CudnnConv;
import org.tessel.runtime.gpu.kernels.FusedAttention;
import org.tessel.runtime.gpu.kernels.FusedEltwiseKernel;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * Micro-benchmarks of the device layer on the GPU machine, printed as a table last: the
 * device-to-device copy ceiling, a cuBLASLt FP16 GEMM 4096^3, a ResNet-50 3x3 convolution
 * through cuDNN FP16 NHWC, the generated fused elementwise kernel's bandwidth and the fused
 * attention kernel at BERT-base's shape. Each time is the median of CUDA-event timings after
 * warm-up, on random (never zero) data.
 */
public final class GpuMicroBench {
    /** One measurement: median per-call time launching from Java, and per-iteration time replaying a captured CUDA graph. */
    record Row(String what, String shape, double ms, double graphMs, String rate) {}

    /** Work per unit of time: bytes or flops over the graph time (the GPU's), or the stream time when capture failed. */
    interface Rate { String of(double ms); }

    private void add(String what, String shape, int warm, int reps, Runnable work, Rate rate) {
        double ms = medianMs(warm, reps, work);
        double g = graphMs(work);
        rows.add(new Row(what, shape, ms, g, rate.of(Double.isNaN(g) ? ms : g)));
    }

    /** Milliseconds per iteration of {@code work} captured 20 times into one CUDA graph (host overhead excluded); NaN if capture fails. */
    private double graphMs(Runnable work) {
        int per = 20;
        try (org.tessel.runtime.cuda.CudaGraph g = org.tessel.runtime.cuda.CudaGraph.capture(stream, () -> { for (int i = 0; i < per; i++) work.run(); })) {
            return medianMs(3, 20, () -> g.launch(stream)) / per;
        } catch (RuntimeException e) {
            System.out.println("graph capture failed: " + e.getMessage());
            return Double.NaN;
        }
    }

    private final List<Row> rows = new ArrayList<>();
    private final CudaStream stream;
    private final SplittableRandom random = new SplittableRandom(2026);

    private GpuMicroBench(CudaStream stream) { this.stream = stream; }

    public static void main(String[] args) {
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("GpuMicroBench needs a CUDA GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        System.out.println("device: " + b.describe());
        try (CudaStream s = CudaStream.create(); KernelCompiler kc = new KernelCompiler(ctx)) {
            GpuMicroBench bench = new GpuMicroBench(s);
            bench.guard("copy", bench::copy);
            bench.guard("gemm", bench::gemm);
            bench.guard("conv", () -> bench.conv(1));
            bench.guard("conv", () -> bench.conv(32));
            bench.guard("eltwise", () -> bench.eltwise(kc, DType.F32));
            bench.guard("eltwise", () -> bench.eltwise(kc, DType.F16));
            bench.guard("layernorm", () -> bench.rows(kc, DType.F16, true));
            bench.guard("softmax", () -> bench.rows(kc, DType.F16, false));
            bench.guard("attention", () -> bench.attention(kc, DType.F16, 1));
            bench.guard("attention", () -> bench.attention(kc, DType.F16, 32));
            bench.print(ctx);
        }
    }

    private void guard(String what, Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            System.out.println("benchmark " + what + " failed: " + e);
            rows.add(new Row(what, "-", Double.NaN, Double.NaN, "FAILED: " + String.valueOf(e.getMessage()).lines().findFirst().orElse("")));
        }
    }

    /** Median milliseconds of {@code reps} timed runs after {@code warm} untimed ones. */
    private double medianMs(int warm, int reps, Runnable work) {
        for (int i = 0; i < warm; i++) work.run();
        stream.synchronize();
        double[] t = new double[reps];
        try (CudaEvent a = new CudaEvent(); CudaEvent z = new CudaEvent()) {
            for (int i = 0; i < reps; i++) {
                a.record(stream);
                work.run();
                z.record(stream);
                t[i] = z.elapsedSince(a);
            }
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    private DeviceBuffer randomBuffer(DType t, long n, double scale) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((random.nextDouble() * 2 - 1) * scale);
        return HostTensors.upload(Tensor.ofFloats(t, Shape.of(v.length), v), t);
    }

    private void copy() {
        long bytes = 512L << 20;
        try (DeviceBuffer a = DeviceBuffer.allocate(bytes); DeviceBuffer c = DeviceBuffer.allocate(bytes)) {
            a.fill((byte) 0x3C);
            add("device-to-device copy (ceiling)", "512 MiB", 3, 20, () -> c.copyFromAsync(a, stream), ms -> String.format("%.0f GB/s (read+write)", 2.0 * bytes / ms / 1e6));
        }
    }

    private void gemm() {
        int n = 4096;
        try (CublasLt lt = CublasLt.create(); DeviceBuffer x = randomBuffer(DType.F16, (long) n * n, 1); DeviceBuffer w = randomBuffer(DType.F16, (long) n * n, 1);
             DeviceBuffer y = DeviceBuffer.allocate(2L * n * n); DeviceBuffer ws = DeviceBuffer.allocate(CublasLtGemm.WORKSPACE_BYTES);
             CublasLtGemm g = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(n, n, n, false, CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 4)) {
            add("cuBLASLt GEMM fp16 (f32 accumulate)", n + "^3", 10, 50, () -> g.run(x, w, y, ws, stream), ms -> String.format("%.0f TFLOP/s", 2.0 * n * n * n / ms / 1e9));
        }
    }

    private void conv(int batch) {
        // ResNet-50 layer2 3x3 convolution: 128 -> 128 channels at 28x28
        CudnnConv.Spec p = new CudnnConv.Spec(batch, 128, 28, 28, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, Layout.NHWC, DType.F16, CudnnConv.Math.FP32_STRICT);
        try (Cudnn cudnn = Cudnn.create(); CudnnConv conv = CudnnConv.create(cudnn, p);
             DeviceBuffer x = randomBuffer(DType.F16, (long) batch * 128 * 28 * 28, 1); DeviceBuffer w = randomBuffer(DType.F16, 128L * 128 * 9, 0.1);
             DeviceBuffer y = DeviceBuffer.allocate(2L * conv.outputElements()); DeviceBuffer ws = DeviceBuffer.allocate(256L << 20)) {
            List<Cudnn.AlgoPerf> found = conv.find(x, w, y, ws);
            Cudnn.AlgoPerf best = found.stream().filter(Cudnn.AlgoPerf::ok).findFirst().orElseThrow(() -> new IllegalStateException("no algorithm: " + found));
            double flops = 2.0 * batch * 128 * 28 * 28 * 128 * 9;
            add("cuDNN conv fp16 NHWC, ResNet-50 3x3 (" + best.algo().tacticId() + ")", "N" + batch + " 128x28x28 k128", 10, 50,
                    () -> conv.run(best.algo(), x, w, y, ws, stream), ms -> String.format("%.1f TFLOP/s", flops / ms / 1e9));
        }
    }

    private void eltwise(KernelCompiler kc, DType t) {
        int n = 32, c = 256, h = 56;
        NetworkBuilder b = new NetworkBuilder("bench_eltwise");
        Value x = b.input("x", t, n, c, h, h);
        float[] bv = new float[c];
        for (int i = 0; i < c; i++) bv[i] = (float) (random.nextDouble() * 2 - 1);
        Value bias = b.constant("bias", Tensor.ofFloats(t, Shape.of(c, 1, 1), bv));
        Graph g = b.output(b.relu(b.add(b.mul(x, b.scalar("scale", t, 0.75)), bias))).build();
        long elems = (long) n * c * h * h;
        try (FusedEltwiseKernel k = FusedEltwiseKernel.compile(kc, g); DeviceBuffer dx = randomBuffer(t, elems, 2);
             DeviceBuffer dy = DeviceBuffer.allocate(elems * t.bytes())) {
            List<DeviceBuffer> in = List.of(dx), out = List.of(dy);
            double bytes = 2.0 * elems * t.bytes();
            add("tessel.eltwise.fused relu(x*s+b[c]) " + t.text() + " (vec" + k.source().vec() + ")", "[32,256,56,56]", 10, 50, () -> k.run(in, out, stream),
                    ms -> String.format("%.0f GB/s", bytes / ms / 1e6));
            add("tessel.eltwise.fused relu(x*s+b[c]) " + t.text() + " (1 elem/thread)", "[32,256,56,56]", 10, 50, () -> k.runScalar(in, out, stream),
                    ms -> String.format("%.0f GB/s", bytes / ms / 1e6));
        }
    }

    /** Layer norm over BERT-base hidden rows [32*128, 768], or softmax over attention rows [32*12*128, 128]. */
    private void rows(KernelCompiler kc, DType t, boolean layerNorm) {
        int rowsN = layerNorm ? 32 * 128 : 32 * 12 * 128, len = layerNorm ? 768 : 128;
        long elems = (long) rowsN * len;
        try (DeviceBuffer x = randomBuffer(t, elems, 3); DeviceBuffer y = DeviceBuffer.allocate(elems * t.bytes());
             DeviceBuffer g = randomBuffer(t, len, 1); DeviceBuffer b = randomBuffer(t, len, 1)) {
            Runnable work = layerNorm
                    ? () -> org.tessel.runtime.gpu.kernels.LayerNorm.run(kc, t, x, g, b, y, rowsN, len, 1e-5f, stream)
                    : () -> org.tessel.runtime.gpu.kernels.Softmax.run(kc, t, x, y, rowsN, len, stream);
            add((layerNorm ? "tessel.layernorm " : "tessel.softmax ") + t.text(), "[" + rowsN + "," + len + "]", 10, 50, work,
                    ms -> String.format("%.0f GB/s", 2.0 * elems * t.bytes() / ms / 1e6));
        }
    }

    private void attention(KernelCompiler kc, DType t, int batch) {
        int heads = 12, seq = 128, d = 64;
        long elems = (long) batch * heads * seq * d;
        try (DeviceBuffer q = randomBuffer(t, elems, 1); DeviceBuffer k = randomBuffer(t, elems, 1); DeviceBuffer v = randomBuffer(t, elems, 1);
             DeviceBuffer o = DeviceBuffer.allocate(elems * t.bytes())) {
            float scale = (float) (1 / Math.sqrt(d));
            double flops = 4.0 * batch * heads * seq * seq * d;
            add("tessel.attention.fused " + t.text() + " (BERT-base)", "B" + batch + " H12 S128 D64", 10, 50,
                    () -> FusedAttention.run(kc, t, batch * heads, heads, seq, seq, d, scale, q, k, v, null, o, stream), ms -> String.format("%.1f TFLOP/s", flops / ms / 1e9));
        }
    }

    private void print(CudaContext ctx) {
        System.out.println();
        System.out.println("== Tessel GPU micro-benchmarks on " + ctx.device() + ": medians of CUDA-event timings; 'launch' = one call from Java,"
                + " 'graph' = per iteration of 20 captured in a CUDA graph; rate from the graph time ==");
        System.out.printf("| %-70s | %-20s | %9s | %9s | %-22s |%n", "what", "shape", "launch ms", "graph ms", "rate");
        System.out.printf("|%s|%s|%s|%s|%s|%n", "-".repeat(72), "-".repeat(22), "-".repeat(11), "-".repeat(11), "-".repeat(24));
        for (Row r : rows) System.out.printf("| %-70s | %-20s | %9.4f | %9.4f | %-22s |%n", r.what(), r.shape(), r.ms(), r.graphMs(), r.rate());
    }
}
