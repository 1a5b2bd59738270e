package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Float8E4M3;
import org.tessel.api.Tensor;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.CudaDataType;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * cuBLASLt's FP8 E4M3 GEMM for the tactic {@code cublaslt.gemm} at FP8 (sm_89+): y[M, N] = sx sw
 * X[M, K] W[N, K]^T (+ bias[N]) with X and W e4m3 codes at per-tensor scales (X from
 * {@link QuantizeFp8}, W from {@link #weights}), f32 accumulation and y in f16, bf16 or f32.
 *
 * <p>As {@link Int8Gemm}: row-major y is column-major y^T [N, M] = W X^T, which is the "TN" form FP8
 * needs (A = W transposed, B = X not): cuBLASLt's m = N, n = M, k = K, lda = ldb = K, ldd = N, all
 * multiples of 16 ({@link CublasLt.Problem#fp8WhyNot}). The scales go to the matmul as device
 * pointers (CUBLASLT_MATMUL_DESC_A/B_SCALE_POINTER). Compiled and checked without a GPU; its
 * {@code @Tag("gpu")} test (Fp8GemmGpuTest) is for the next GPU run.
 */
public final class Fp8Gemm implements AutoCloseable {
    /** M rows of activations, N output channels, K the contraction, y's element type, whether a bias vector is added. */
    public record Spec(int m, int n, int k, DType out, boolean bias) {
        public Spec {
            CudaDataType o = outType(out);
            String why = CublasLt.Problem.fp8WhyNot(true, false, n, m, k, k, k, n, CudaDataType.R_8F_E4M3, CublasLt.ComputeType.C32F, o);
            if (why != null) throw new IllegalArgumentException("FP8 GEMM [" + m + "x" + k + "] x [" + k + "x" + n + "]: " + why);
            // an f32 bias vector with an f32 D gave NaN on an H100 (2026-12-05): cuBLASLt's FP8 kernels read the bias of an
            // f32 D as bf16; the engine adds biases in Tessel's FP8 epilogue and asks for none here
            if (bias && out == DType.F32)
                throw new IllegalArgumentException("FP8 GEMM [" + m + "x" + k + "] x [" + k + "x" + n + "]: cuBLASLt's FP8 matmul with an f32 D does not take an f32 bias vector; add the bias in Tessel's FP8 epilogue (Fp8Epilogue)");
        }
    }

    /** The element types y may have: f16, bf16, f32. */
    static CudaDataType outType(DType t) {
        return switch (t) {
            case F16 -> CudaDataType.R_16F;
            case BF16 -> CudaDataType.R_16BF;
            case F32 -> CudaDataType.R_32F;
            default -> throw new IllegalArgumentException("an FP8 GEMM writes y in f16, bf16 or f32, not " + t.text());
        };
    }

    /** Weights W [N, K] (f32) as E4M3 codes at one per-tensor scale (amax/448), the CPU engine's FP8 weights. */
    public record Weights(byte[] codes, float scale) {}

    /** W [N, K] quantized per tensor: codes e4m3(w / scale), scale = amax / 448 ({@link PrecisionEmulation#fp8TensorScale}). */
    public static Weights weights(Tensor w) { return weights(w, Float.NaN); }

    /** As above at a given per-tensor scale (the plan's, a Q/DQ model's own), or NaN for amax / 448. */
    public static Weights weights(Tensor w, float scale) {
        if (w.dtype() != DType.F32 || w.rank() != 2) throw new IllegalArgumentException("FP8 GEMM weights are f32 [N, K], got " + w.type());
        float s = Float.isNaN(scale) ? PrecisionEmulation.fp8TensorScale(w) : scale;
        float[] v = w.floats();
        byte[] codes = new byte[v.length];
        for (int i = 0; i < v.length; i++) codes[i] = (byte) Float8E4M3.toBits(v[i] / s, true);
        return new Weights(codes, s);
    }

    private final Spec spec;
    private final CublasLt.Plan plan;

    private Fp8Gemm(CublasLt lt, Spec s, long biasAddress, int maxAlgos) {
        this.spec = s;
        CublasLt.Problem p = new CublasLt.Problem(true, false, s.n(), s.m(), s.k(), s.k(), s.k(), s.n(), CudaDataType.R_8F_E4M3,
                CublasLt.ComputeType.C32F, s.bias() ? CublasLt.Epilogue.BIAS : CublasLt.Epilogue.DEFAULT, outType(s.out()));
        this.plan = lt.plan(p, biasAddress, maxAlgos, CublasLtGemm.WORKSPACE_BYTES);
    }

    /** Plans the GEMM (with the bias vector's address when {@code spec.bias()}, in y's type) and asks the heuristic for up to {@code maxAlgos} algorithms. */
    public static Fp8Gemm plan(CublasLt lt, Spec spec, long biasAddress, int maxAlgos) { return new Fp8Gemm(lt, spec, biasAddress, maxAlgos); }

    public Spec spec() { return spec; }

    public List<CublasLt.Algo> algos() { return plan.algos(); }

    /**
     * y = sx sw X W^T (+ bias) with the heuristic's {@code algoIndex}-th algorithm; {@code xScale} and
     * {@code wScale} hold one f32 each on the device.
     */
    public void run(int algoIndex, DeviceBuffer x, DeviceBuffer xScale, DeviceBuffer w, DeviceBuffer wScale, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        if (algoIndex < 0 || algoIndex >= plan.algos().size())
            throw new IllegalArgumentException("FP8 GEMM has " + plan.algos().size() + " algorithms, asked for number " + algoIndex);
        check(x, (long) spec.m() * spec.k(), "activations X [" + spec.m() + ", " + spec.k() + "] (e4m3)");
        check(w, (long) spec.n() * spec.k(), "weights W [" + spec.n() + ", " + spec.k() + "] (e4m3, output channels first)");
        check(y, (long) spec.m() * spec.n() * spec.out().bytes(), "output y [" + spec.m() + ", " + spec.n() + "] (" + spec.out().text() + ")");
        check(xScale, 4, "X scale (one f32)");
        check(wScale, 4, "W scale (one f32)");
        plan.setFp8Scales(wScale.address(), xScale.address()); // cuBLASLt's A is W, its B is X
        plan.run(plan.algos().get(algoIndex), 1f, w.address(), x.address(), 0f, y.address(), workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes(), stream.handleAddress());
    }

    /** A buffer holds {@code bytes} and starts 16-byte aligned (cuBLASLt's FP8 kernels need that). */
    static void check(DeviceBuffer b, long bytes, String what) {
        if (b == null) throw new IllegalArgumentException("FP8 GEMM: no buffer for the " + what);
        if (b.bytes() < bytes) throw new IllegalArgumentException("FP8 GEMM: the " + what + " buffer holds " + b.bytes() + " bytes, needs " + bytes);
        if (b.address() % 16 != 0)
            throw new IllegalArgumentException("FP8 GEMM: the " + what + " buffer starts at 0x" + Long.toHexString(b.address()) + ", not 16-byte aligned as cuBLASLt's FP8 kernels need");
    }

    @Override public void close() { plan.close(); }
}
