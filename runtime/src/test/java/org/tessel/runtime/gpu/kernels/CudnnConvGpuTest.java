package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.cuda.ffm.CudnnException;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;

/** cuDNN convolutions (every applicable algorithm, NCHW and NHWC, groups, fused bias + ReLU) against the reference. */
@Tag("gpu")
class CudnnConvGpuTest {
    static final long MAX_WORKSPACE = 512L << 20;

    static final List<CudnnConv.Spec> SPECS = List.of(
            spec(2, 16, 14, 14, 32, 3, 1, 1, 1, 1, Layout.NCHW, DType.F32, CudnnConv.Math.FP32_STRICT),
            spec(1, 24, 15, 15, 16, 3, 2, 2, 2, 1, Layout.NHWC, DType.F32, CudnnConv.Math.FP32_STRICT),
            spec(2, 32, 9, 9, 64, 3, 1, 1, 1, 4, Layout.NCHW, DType.F32, CudnnConv.Math.FP32_STRICT),
            spec(2, 16, 14, 14, 32, 3, 1, 1, 1, 1, Layout.NCHW, DType.F32, CudnnConv.Math.TF32_ALLOWED),
            spec(2, 64, 28, 28, 64, 3, 1, 1, 1, 1, Layout.NHWC, DType.F16, CudnnConv.Math.FP32_STRICT),
            spec(1, 32, 16, 16, 48, 1, 0, 2, 1, 1, Layout.NCHW, DType.F16, CudnnConv.Math.FP32_STRICT),
            spec(2, 32, 12, 12, 32, 3, 1, 1, 1, 32, Layout.NHWC, DType.F16, CudnnConv.Math.FP32_STRICT),
            spec(1, 32, 14, 14, 64, 3, 1, 1, 1, 1, Layout.NHWC, DType.BF16, CudnnConv.Math.FP32_STRICT));

    static CudnnConv.Spec spec(int n, int c, int h, int w, int k, int rs, int pad, int stride, int dil, int groups, Layout l, DType t, CudnnConv.Math math) {
        return new CudnnConv.Spec(n, c, h, w, k, rs, rs, pad, pad, stride, stride, dil, dil, groups, l, t, math);
    }

    static String name(CudnnConv.Spec p) {
        return p.dtype().text() + " " + p.layout().text() + " " + p.n() + "x" + p.c() + "x" + p.h() + "x" + p.w() + " k" + p.k() + " " + p.r() + "x" + p.s()
                + " p" + p.padH() + " s" + p.strideH() + " d" + p.dilationH() + " g" + p.groups() + (p.math() == CudnnConv.Math.TF32_ALLOWED ? " tf32" : "");
    }

    /** Conv + bias, conv + bias + residual + relu, as reference outputs. */
    static Graph reference(CudnnConv.Spec p) {
        NetworkBuilder b = new NetworkBuilder("conv_ref");
        Value x = b.input("x", DType.F32, p.n(), p.c(), p.h(), p.w());
        Value w = b.input("w", DType.F32, p.k(), p.c() / p.groups(), p.r(), p.s());
        Value bias = b.input("b", DType.F32, p.k());
        Value z = b.input("z", DType.F32, p.n(), p.k(), p.outH(), p.outW());
        Value y = b.conv(x, w, null, p.strideH(), p.padH(), p.dilationH(), p.groups());
        Value yb = b.conv(x, w, bias, p.strideH(), p.padH(), p.dilationH(), p.groups());
        return b.output(y, yb, b.relu(b.add(yb, z))).build();
    }

    static DeviceBuffer upload(Tensor logical, Layout l) { return HostTensors.upload(l == Layout.NHWC ? HostTensors.toChannelsLast(logical) : logical); }

    static Tensor download(DeviceBuffer b, DType t, Shape logical, Layout l) {
        Tensor raw = HostTensors.download(b, t, logical);
        return l == Layout.NHWC ? HostTensors.fromChannelsLast(raw) : raw;
    }

    @Test void everyApplicableAlgorithmMatchesTheReference() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(11);
        try (Cudnn cudnn = Cudnn.create()) {
            System.out.println("RESULT|cuDNN version " + cudnn.version() + " from " + cudnn.nativeLibrary().path() + "|-|-|-|-|-|info");
            for (CudnnConv.Spec p : SPECS) {
                DType t = p.dtype();
                Tensor x = GpuTestSupport.random(r, t, p.n(), p.c(), p.h(), p.w());
                Tensor w = GpuTestSupport.random(r, t, Shape.of(p.k(), p.c() / p.groups(), p.r(), p.s()), -0.3, 0.3);
                Tensor bias = GpuTestSupport.random(r, t, p.k());
                Tensor z = GpuTestSupport.random(r, t, p.n(), p.k(), p.outH(), p.outW());
                List<Tensor> ref = List.copyOf(GpuTestSupport.reference(reference(p), Map.of("x", GpuTestSupport.asF32(x), "w", GpuTestSupport.asF32(w),
                        "b", GpuTestSupport.asF32(bias), "z", GpuTestSupport.asF32(z))).values());
                Shape outShape = Shape.of(p.n(), p.k(), p.outH(), p.outW());
                int[] verified = {0};
                try (CudnnConv conv = CudnnConv.create(cudnn, p); DeviceBuffer dx = upload(x, p.layout());
                     DeviceBuffer dw = HostTensors.upload(CudnnConv.packFilter(w, p.layout())); DeviceBuffer db = HostTensors.upload(bias);
                     DeviceBuffer dz = upload(z, p.layout()); DeviceBuffer dy = GpuTestSupport.poisoned(t, conv.outputElements())) {
                    for (Cudnn.AlgoPerf a : conv.heuristics()) {
                        String what = a.algo().tacticId() + " " + name(p);
                        if (!a.ok()) { System.out.println("RESULT|" + what + "|-|-|-|-|-|skip (heuristic status " + a.status() + ")"); continue; }
                        checks.check(what, () -> {
                            long wsBytes;
                            try {
                                wsBytes = conv.workspaceSize(a.algo());
                            } catch (CudnnException e) {
                                System.out.println("RESULT|" + what + "|-|-|-|-|-|skip (" + e.getMessage() + ")");
                                return;
                            }
                            if (wsBytes > MAX_WORKSPACE) { System.out.println("RESULT|" + what + "|-|-|-|-|-|skip (workspace " + wsBytes + ")"); return; }
                            try (DeviceBuffer ws = wsBytes == 0 ? null : DeviceBuffer.allocate(wsBytes)) {
                                dy.fill((byte) 0xFF);
                                try {
                                    conv.run(a.algo(), dx, dw, dy, ws, CudaStream.DEFAULT);
                                } catch (CudnnException e) {
                                    if (e.status() / 1000 == 3) { System.out.println("RESULT|" + what + "|-|-|-|-|-|skip (" + e.getMessage() + ")"); return; }
                                    throw e;
                                }
                                double tol = t != DType.F32 ? GpuTestSupport.tolerance(t)
                                        : p.math() == CudnnConv.Math.TF32_ALLOWED || a.algo().name().startsWith("FFT") || a.algo().name().startsWith("WINOGRAD") ? 3e-3 : 1e-4;
                                assertClose(what, download(dy, t, outShape, p.layout()), ref.get(0), tol);
                                verified[0]++;
                            }
                        });
                    }
                    checks.check("cudnn.conv.fused_bias_act " + name(p), () -> {
                        Cudnn.FwdAlgo algo = Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM;
                        long wsBytes = conv.workspaceSize(algo);
                        try (DeviceBuffer ws = wsBytes == 0 ? null : DeviceBuffer.allocate(wsBytes)) {
                            double tol = t == DType.F32 ? (p.math() == CudnnConv.Math.TF32_ALLOWED ? 3e-3 : 1e-4) : GpuTestSupport.tolerance(t);
                            dy.fill((byte) 0xFF);
                            try {
                                conv.runBiasActivation(algo, dx, dw, db, dz, 1f, true, dy, ws, CudaStream.DEFAULT);
                            } catch (CudnnException e) {
                                if (e.status() / 1000 == 3) { System.out.println("RESULT|cudnn.conv.fused_bias_act " + name(p) + "|-|-|-|-|-|skip (" + e.getMessage() + ")"); return; }
                                throw e;
                            }
                            assertClose("cudnn.conv.fused_bias_act relu+residual " + name(p), download(dy, t, outShape, p.layout()), ref.get(2), tol);
                            dy.fill((byte) 0xFF);
                            conv.runBiasActivation(algo, dx, dw, db, null, 0f, false, dy, ws, CudaStream.DEFAULT);
                            assertClose("cudnn.conv.fused_bias_act identity " + name(p), download(dy, t, outShape, p.layout()), ref.get(1), tol);
                        }
                    });
                }
                checks.check("some algorithm verified for " + name(p), () -> assertTrue(verified[0] > 0, "no cuDNN algorithm ran for " + name(p)));
            }
        }
        checks.done();
    }

    @Test void findRanksAlgorithmsByMeasuredTime() {
        GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(12);
        CudnnConv.Spec p = SPECS.get(4);
        try (Cudnn cudnn = Cudnn.create(); CudnnConv conv = CudnnConv.create(cudnn, p);
             DeviceBuffer dx = HostTensors.upload(HostTensors.toChannelsLast(GpuTestSupport.random(r, p.dtype(), p.n(), p.c(), p.h(), p.w())));
             DeviceBuffer dw = HostTensors.upload(CudnnConv.packFilter(GpuTestSupport.random(r, p.dtype(), p.k(), p.c(), 3, 3), Layout.NHWC));
             DeviceBuffer dy = DeviceBuffer.allocate(conv.outputElements() * 2); DeviceBuffer ws = DeviceBuffer.allocate(64L << 20)) {
            List<Cudnn.AlgoPerf> found = conv.find(dx, dw, dy, ws);
            assertTrue(found.stream().anyMatch(Cudnn.AlgoPerf::ok), "cudnnFindConvolutionForwardAlgorithmEx found nothing: " + found);
            for (Cudnn.AlgoPerf a : found)
                System.out.printf("RESULT|find %s %s|-|-|%.4f ms|ws %d|-|%s%n", a.algo().tacticId(), name(p), a.timeMs(), a.workspaceBytes(), a.ok() ? "ok" : "status " + a.status());
        }
    }
}
