package org.tessel.runtime.gpu.bench;

import java.util.ArrayList;
import java.util.List;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.Int8Conv;
import org.tessel.runtime.gpu.kernels.Int8Gemm;
import org.tessel.runtime.gpu.kernels.Im2col;
import org.tessel.runtime.gpu.kernels.KernelCompiler;

/**
 * ResNet-50's convolution shapes at one batch, one row per shape, every way the GPU engine could compute their sums:
 * cuDNN's FP16 NHWC convolution (the FP16 engine's, its fastest algorithm by cudnnFind), cuDNN's INT8 convolution as
 * {@code cudnn.conv.fused_bias_act} runs it (int8 NHWC in, f32 out, IMPLICIT_PRECOMP_GEMM) and the fastest algorithm
 * cudnnFind reports for that configuration and for int8 out, Tessel's dp4a kernel ({@code tessel.conv.int8_dp4a}),
 * and for 1x1 stride-1 shapes cuBLASLt's FP16 and INT8 GEMMs over the pixels (as {@code cublaslt.gemm} and
 * {@code cublaslt.gemm.int8} run a MatMul). Times are the sums
 * only (no epilogue), microseconds, mean of 20 launches between CUDA events after a warm-up; TOPS counts 2 ops a
 * multiply-add. A configuration cuDNN refuses prints its status instead of a time.
 *
 * <p>Run: {@code java -cp <runtime classpath> org.tessel.runtime.gpu.bench.Int8ConvBench [BATCH]} (default 256).
 * Prints one {@code INT8CONV|shape|kind|us|TOPS} line a measurement, then a table.
 */
public final class Int8ConvBench {
    private Int8ConvBench() {}

    /** n is the batch; c, h, w, k, r (= s), pad, stride. */
    static final int[][] SHAPES = {
        {64, 56, 56, 64, 1, 0, 1},    // layer1 conv1 (after the first block)
        {64, 56, 56, 64, 3, 1, 1},    // layer1 conv2
        {64, 56, 56, 256, 1, 0, 1},   // layer1 conv3
        {256, 56, 56, 64, 1, 0, 1},   // layer1 conv1
        {128, 28, 28, 128, 3, 1, 1},  // layer2 conv2
        {256, 14, 14, 256, 3, 1, 1},  // layer3 conv2
        {1024, 14, 14, 256, 1, 0, 1}, // layer3 conv1
        {256, 14, 14, 1024, 1, 0, 1}, // layer3 conv3
        {512, 7, 7, 512, 3, 1, 1},    // layer4 conv2
    };
    static final int RUNS = 20;

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("Int8ConvBench needs a CUDA GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        System.out.println("device: " + b.describe() + ", batch " + batch);
        List<String> rows = new ArrayList<>();
        try (CudaStream s = CudaStream.create(); KernelCompiler kc = new KernelCompiler(ctx); Cudnn cudnn = Cudnn.create(); CublasLt lt = CublasLt.create();
             DeviceBuffer ws = DeviceBuffer.allocate(512L << 20)) {
            cudnn.setStream(s.handleAddress());
            for (int[] sh : SHAPES) {
                int c = sh[0], h = sh[1], w = sh[2], k = sh[3], r = sh[4], pad = sh[5], stride = sh[6];
                Int8Conv.Spec spec = new Int8Conv.Spec(batch, c, h, w, k, r, r, pad, pad, stride, stride, 1, 1);
                double ops = 2.0 * spec.outputElements() * c * r * r;
                String name = "c" + c + " " + h + "x" + w + " k" + k + " " + r + "x" + r + (stride > 1 ? " s" + stride : "");
                StringBuilder row = new StringBuilder("| " + name + " |");
                try (DeviceBuffer x = DeviceBuffer.allocate(2 * spec.inputElements()); DeviceBuffer wt = DeviceBuffer.allocate(2 * spec.filterElements());
                     DeviceBuffer y = DeviceBuffer.allocate(4 * spec.outputElements())) {
                    x.fill((byte) 3);
                    wt.fill((byte) 5);
                    row.append(cell(name, "fp16 cudnn best", ops, cudnnBest(cudnn, spec, Cudnn.DataType.HALF, Cudnn.DataType.FLOAT, Cudnn.DataType.HALF, x, wt, y, ws)));
                    List<AutoCloseable> made = new ArrayList<>();
                    row.append(cell(name, "int8->f32 cudnn precomp (engine)", ops, time(s, () -> {
                        Int8Conv conv = Int8Conv.cudnn(cudnn, spec);
                        made.add(conv);
                        return () -> conv.runAccumulate(kc, x, wt, y, ws, s);
                    })));
                    row.append(cell(name, "int8->f32 cudnn best", ops, cudnnBest(cudnn, spec, Cudnn.DataType.INT8, Cudnn.DataType.INT32, Cudnn.DataType.FLOAT, x, wt, y, ws)));
                    row.append(cell(name, "int8->int8 cudnn best", ops, cudnnBest(cudnn, spec, Cudnn.DataType.INT8, Cudnn.DataType.INT32, Cudnn.DataType.INT8, x, wt, y, ws)));
                    row.append(cell(name, "int8 dp4a tiled", ops, time(s, () -> {
                        Int8Conv conv = Int8Conv.tessel(spec);
                        return () -> conv.runAccumulate(kc, x, wt, y, ws, s);
                    })));
                    if (r == 1 && stride == 1 && pad == 0) {
                        row.append(cell(name, "fp16 cublaslt gemm", ops, time(s, () -> {
                            CublasLtGemm g = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(Math.toIntExact(spec.outputRows()), k, c, true,
                                    CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 1);
                            made.add(g);
                            return () -> g.run(x, wt, y, ws, s);
                        })));
                        row.append(cell(name, "int8 cublaslt gemm", ops, time(s, () -> {
                            Int8Gemm g = Int8Gemm.plan(lt, new Int8Gemm.Spec(Math.toIntExact(spec.outputRows()), k, c), 1);
                            made.add(g);
                            return () -> g.runInt32(0, x, wt, y, ws, s);
                        })));
                    } else {
                        row.append(" - | - |");
                    }
                    // FP16 as a GEMM over an im2col matrix (cublaslt.conv.im2col's two launches)
                    row.append(cell(name, "fp16 im2col + cublaslt gemm", ops, time(s, () -> {
                        Im2col.Geometry g = new Im2col.Geometry(batch, h, w, c, spec.outH(), spec.outW(), r, r, stride, stride, pad, pad, 1, 1);
                        DeviceBuffer col = DeviceBuffer.allocate(g.bytes(2));
                        made.add(col);
                        CublasLtGemm gm = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(Math.toIntExact(spec.outputRows()), k, g.kpad(), true,
                                CublasLtGemm.Precision.FP16, CublasLt.Epilogue.DEFAULT), null, 1);
                        made.add(gm);
                        return () -> {
                            Im2col.run(kc, g, 2, x, col, s);
                            gm.run(col, wt, y, ws, s);
                        };
                    })));
                    for (AutoCloseable m : made) {
                        try {
                            m.close();
                        } catch (Exception e) {
                            throw new IllegalStateException("closing " + m + ": " + e.getMessage(), e);
                        }
                    }
                }
                rows.add(row.toString());
            }
        }
        System.out.println("| shape (batch " + batch + ") | fp16 cuDNN best | int8->f32 cuDNN precomp (engine) | int8->f32 cuDNN best | int8->int8 cuDNN best | int8 dp4a | fp16 cuBLASLt GEMM (1x1) | int8 cuBLASLt GEMM (1x1) | fp16 im2col + cuBLASLt GEMM |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    interface Setup { Runnable make() throws Exception; }

    /** Microseconds of the launch {@code setup} makes (mean of RUNS after one warm-up), or the failure's message. */
    static Object time(CudaStream s, Setup setup) {
        try {
            Runnable launch = setup.make();
            launch.run();
            s.synchronize();
            try (CudaEvent e0 = new CudaEvent(); CudaEvent e1 = new CudaEvent()) {
                e0.record(s);
                for (int i = 0; i < RUNS; i++) launch.run();
                e1.record(s);
                e1.synchronize();
                return 1000.0 * e1.elapsedSince(e0) / RUNS;
            }
        } catch (Exception | Error e) {
            return e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        }
    }

    /** cudnnFind's fastest working algorithm for this configuration, microseconds, or why none ran. */
    static Object cudnnBest(Cudnn cudnn, Int8Conv.Spec sp, Cudnn.DataType in, Cudnn.DataType compute, Cudnn.DataType out,
                            DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, DeviceBuffer ws) {
        try (Cudnn.TensorDesc xd = cudnn.tensor(Cudnn.Format.NHWC, in, sp.n(), sp.c(), sp.h(), sp.w());
             Cudnn.FilterDesc wd = cudnn.filter(in, Cudnn.Format.NHWC, sp.k(), sp.c(), sp.r(), sp.s());
             Cudnn.ConvDesc cd = cudnn.convolution(sp.padH(), sp.padW(), sp.strideH(), sp.strideW(), 1, 1, compute, 1, Cudnn.MathType.TENSOR_OP);
             Cudnn.TensorDesc yd = cudnn.tensor(Cudnn.Format.NHWC, out, sp.n(), sp.k(), sp.outH(), sp.outW())) {
            List<Cudnn.AlgoPerf> perfs = cudnn.findAlgorithms(xd, x.address(), wd, w.address(), cd, yd, y.address(), ws.address(), ws.bytes());
            for (Cudnn.AlgoPerf p : perfs)
                if (p.ok()) return new Found(1000.0 * p.timeMs(), p.algo() + "/" + p.mathType());
            return "no algorithm ran (" + (perfs.isEmpty() ? "none listed" : "status " + perfs.getFirst().status()) + ")";
        } catch (RuntimeException e) {
            return e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        }
    }

    record Found(double us, String algo) {}

    static String cell(String shape, String kind, double ops, Object result) {
        String text;
        if (result instanceof Double us) {
            text = String.format("%.1f us (%.0f TOPS)", us, ops / (us * 1e-6) / 1e12);
        } else if (result instanceof Found f) {
            text = String.format("%.1f us (%.0f TOPS, %s)", f.us(), ops / (f.us() * 1e-6) / 1e12, f.algo());
        } else {
            text = String.valueOf(result);
        }
        System.out.println("INT8CONV|" + shape + "|" + kind + "|" + text);
        return " " + text.replace("|", "/") + " |";
    }
}
