package org.tessel.runtime.gpu.kernels;

import static org.tessel.runtime.gpu.GpuTestSupport.assertClose;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cublas;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.gpu.HostTensors;

/** cuBLASLt GEMMs with every epilogue and precision, and plain cuBLAS, against the reference interpreter. */
@Tag("gpu")
class CublasGemmGpuTest {
    static final int[][] SHAPES = {{64, 96, 128}, {33, 72, 40}, {256, 512, 768}};

    /** Reference graph: MatMul, bias Add, and each activation, all as outputs. */
    static Graph reference(int m, int n, int k) {
        NetworkBuilder b = new NetworkBuilder("gemm_ref");
        Value x = b.input("x", DType.F32, m, k), w = b.input("w", DType.F32, k, n), bias = b.input("bias", DType.F32, n);
        Value mm = b.matmul(x, w);
        Value mb = b.add(mm, bias);
        Value geluTanh = b.op("Gelu", NetworkBuilder.attrs("approximate", "tanh"), mb);
        Value geluTanhNoBias = b.op("Gelu", NetworkBuilder.attrs("approximate", "tanh"), mm);
        return b.output(mm, mb, b.relu(mb), geluTanh, b.relu(mm), geluTanhNoBias).build();
    }

    static Tensor transpose(Tensor w) {
        int k = w.shape().dim(0), n = w.shape().dim(1);
        float[] s = w.floats(), d = new float[s.length];
        for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) d[j * k + i] = s[i * n + j];
        return Tensor.ofFloats(w.dtype(), Shape.of(n, k), d);
    }

    @Test void cublasLtMatchesTheReferenceForEveryEpilogueAndPrecision() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(7);
        try (CublasLt lt = CublasLt.create(); DeviceBuffer ws = DeviceBuffer.allocate(CublasLtGemm.WORKSPACE_BYTES)) {
            System.out.println("RESULT|cuBLASLt version " + lt.version() + " from " + lt.nativeLibrary().path() + "|-|-|-|-|-|info");
            for (int[] sh : SHAPES) {
                int m = sh[0], n = sh[1], k = sh[2];
                Graph g = reference(m, n, k);
                for (CublasLtGemm.Precision prec : CublasLtGemm.Precision.values()) {
                    DType t = prec.dtype();
                    Tensor x = GpuTestSupport.random(r, t, m, k), w = GpuTestSupport.random(r, t, Shape.of(k, n), -0.2, 0.2),
                            bias = GpuTestSupport.random(r, t, n);
                    List<Tensor> ref = List.copyOf(GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x), "w", GpuTestSupport.asF32(w),
                            "bias", GpuTestSupport.asF32(bias))).values());
                    double tol = switch (prec) { case FP32 -> 1e-4; case TF32 -> 3e-3; case FP16 -> 1e-2; case BF16 -> 2e-2; };
                    for (boolean transposed : new boolean[] {false, true}) {
                        if (transposed && m != 64) continue;
                        for (CublasLt.Epilogue ep : CublasLt.Epilogue.values()) {
                            Tensor want = ref.get(switch (ep) { case DEFAULT -> 0; case BIAS -> 1; case RELU_BIAS -> 2; case GELU_BIAS -> 3; case RELU -> 4; case GELU -> 5; });
                            String what = "cublaslt.gemm." + ep.name().toLowerCase(java.util.Locale.ROOT) + " " + prec + " " + m + "x" + n + "x" + k + (transposed ? " W^T" : "");
                            checks.check(what, () -> {
                                try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dw = HostTensors.upload(transposed ? transpose(w) : w);
                                     DeviceBuffer db = HostTensors.upload(bias); DeviceBuffer dy = GpuTestSupport.poisoned(t, (long) m * n);
                                     CublasLtGemm gemm = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(m, n, k, transposed, prec, ep), ep.hasBias() ? db : null, 8)) {
                                    gemm.run(dx, dw, dy, ws, CudaStream.DEFAULT);
                                    Tensor got = HostTensors.download(dy, t, Shape.of(m, n));
                                    assertClose(what + " (" + gemm.algos().size() + " algos)", got, want, tol);
                                }
                            });
                        }
                    }
                }
            }
        }
        checks.done();
    }

    /**
     * The batched form of a merged GEMM: three parts (Q, K, V) of one input as one strided-batched matmul, the weights
     * [3][K][N] (or [3][N][K] transposed) and biases [3][N] one after another, equal part by part to three separate
     * GEMMs writing their own outputs, at FP32 and FP16, with and without the bias epilogue.
     */
    @Test void aBatchedGemmsPartsEqualSeparateGemms() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(9);
        int parts = 3;
        try (CublasLt lt = CublasLt.create(); DeviceBuffer ws = DeviceBuffer.allocate(CublasLtGemm.WORKSPACE_BYTES)) {
            for (int[] sh : SHAPES) {
                int m = sh[0], n = sh[1], k = sh[2];
                for (CublasLtGemm.Precision prec : new CublasLtGemm.Precision[] {CublasLtGemm.Precision.FP32, CublasLtGemm.Precision.FP16}) {
                    DType t = prec.dtype();
                    Tensor x = GpuTestSupport.random(r, t, m, k);
                    List<Tensor> ws3 = new java.util.ArrayList<>(), bs3 = new java.util.ArrayList<>();
                    for (int j = 0; j < parts; j++) {
                        ws3.add(GpuTestSupport.random(r, t, Shape.of(k, n), -0.2, 0.2));
                        bs3.add(GpuTestSupport.random(r, t, n));
                    }
                    for (boolean transposed : new boolean[] {false, true})
                        for (CublasLt.Epilogue ep : new CublasLt.Epilogue[] {CublasLt.Epilogue.BIAS, CublasLt.Epilogue.DEFAULT}) {
                            String what = "batched x" + parts + " " + ep + " " + prec + " " + m + "x" + n + "x" + k + (transposed ? " W^T" : "");
                            checks.check(what, () -> {
                                List<Tensor> wsj = ws3.stream().map(w -> transposed ? transpose(w) : w).toList();
                                long part = (long) m * n * t.bytes();
                                try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dw = HostTensors.upload(oneAfterAnother(wsj));
                                     DeviceBuffer db = HostTensors.upload(oneAfterAnother(bs3)); DeviceBuffer dy = GpuTestSupport.poisoned(t, (long) parts * m * n);
                                     CublasLtGemm batched = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(m, n, k, transposed, prec, ep, parts), ep.hasBias() ? db : null, 1)) {
                                    batched.run(dx, dw, dy, ws, CudaStream.DEFAULT);
                                    for (int j = 0; j < parts; j++) {
                                        try (DeviceBuffer wj = HostTensors.upload(wsj.get(j)); DeviceBuffer bj = HostTensors.upload(bs3.get(j));
                                             DeviceBuffer yj = GpuTestSupport.poisoned(t, (long) m * n);
                                             CublasLtGemm one = CublasLtGemm.plan(lt, new CublasLtGemm.Spec(m, n, k, transposed, prec, ep), ep.hasBias() ? bj : null, 1)) {
                                            one.run(dx, wj, yj, ws, CudaStream.DEFAULT);
                                            Tensor want = GpuTestSupport.asF32(HostTensors.download(yj, t, Shape.of(m, n)));
                                            Tensor got = GpuTestSupport.asF32(HostTensors.download(dy.slice(j * part, part), t, Shape.of(m, n)));
                                            assertClose(what + " part " + j, got, want, prec == CublasLtGemm.Precision.FP32 ? 1e-5 : 2e-3);
                                        }
                                    }
                                }
                            });
                        }
                }
            }
        }
        checks.done();
    }

    /** Tensors of one shape one after another: [parts, ...their shape]. */
    static Tensor oneAfterAnother(List<Tensor> ts) {
        Tensor first = ts.getFirst();
        int[] d = first.shape().dims(), out = new int[d.length + 1];
        out[0] = ts.size();
        System.arraycopy(d, 0, out, 1, d.length);
        Tensor t = Tensor.zeros(first.dtype(), Shape.of(out));
        int at = 0;
        for (Tensor x : ts) for (int i = 0; i < x.size(); i++) t.setDouble(at++, x.getDouble(i));
        return t;
    }

    @Test void cublasSgemmAndGemmExMatchTheReference() {
        GpuTestSupport.requireGpu();
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        SplittableRandom r = new SplittableRandom(8);
        try (Cublas blas = Cublas.create()) {
            System.out.println("RESULT|cuBLAS version " + blas.version() + "|-|-|-|-|-|info");
            blas.setMathMode(Cublas.PEDANTIC_MATH);
            for (int[] sh : SHAPES) {
                int m = sh[0], n = sh[1], k = sh[2];
                Graph g = reference(m, n, k);
                for (DType t : new DType[] {DType.F32, DType.F16}) {
                    Tensor x = GpuTestSupport.random(r, t, m, k), w = GpuTestSupport.random(r, t, Shape.of(k, n), -0.2, 0.2);
                    Tensor want = GpuTestSupport.reference(g, Map.of("x", GpuTestSupport.asF32(x), "w", GpuTestSupport.asF32(w),
                            "bias", Tensor.zeros(DType.F32, Shape.of(n)))).values().iterator().next();
                    String what = (t == DType.F32 ? "cublas.sgemm " : "cublas.gemm_ex f16 ") + m + "x" + n + "x" + k;
                    checks.check(what, () -> {
                        try (DeviceBuffer dx = HostTensors.upload(x); DeviceBuffer dw = HostTensors.upload(w);
                             DeviceBuffer dy = GpuTestSupport.poisoned(t, (long) m * n)) {
                            // row-major Y = X W is column-major Y^T = W^T X^T: A = W (n x k, ld n), B = X (k x m, ld k)
                            if (t == DType.F32) blas.sgemm(false, false, n, m, k, 1f, dw.address(), n, dx.address(), k, 0f, dy.address(), n);
                            else blas.gemmEx(false, false, n, m, k, 1f, dw.address(), dx.address(), 0f, dy.address(), n, k, n,
                                    org.tessel.runtime.cuda.ffm.CudaDataType.R_16F, CublasLt.ComputeType.C32F);
                            assertClose(what, HostTensors.download(dy, t, Shape.of(m, n)), want, t == DType.F32 ? 1e-4 : 1e-2);
                        }
                    });
                }
            }
        }
        checks.done();
    }
}
