package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.CudaDataType;

/**
 * Tactic {@code cublaslt.gemm.int8}: a row-major INT8 GEMM acc[M, N] = X[M, K] W^T with X int8
 * activations (per-tensor scale), W int8 weights stored [N, K] (one output channel's K codes
 * contiguous: {@link Int8Weights#forGemm}) and exact int32 accumulation through cuBLASLt
 * (CUBLAS_COMPUTE_32I, scale type CUDA_R_32I, A and B CUDA_R_8I, D CUDA_R_32I), then
 * {@link Int8Epilogue} for the per-channel scale, bias, ReLU and the int8 or float output.
 *
 * <p>Row-major acc is column-major acc^T [N, M] = W X^T. cuBLASLt's IMMA kernels take only the
 * "TN" form with regular (column-major) ordering: A transposed, B not. So A = W, stored K x N
 * column-major (that is W [N, K] row-major, lda = K) with op(A) = A^T; B = X stored K x M
 * column-major (X [M, K] row-major, ldb = K); D [N, M] column-major, ldd = N. cuBLASLt's m = N and
 * k = K and the leading dimensions K and N must be multiples of 4, and every pointer 4-byte aligned;
 * M is free. Hopper (sm_90) has no COL32 / COL4_4R2_8C orderings for IMMA, so this regular form is
 * the one that runs there. The heuristic is asked with cuBLASLt's default preferences, which assume
 * 256-byte aligned operands (every fresh {@link DeviceBuffer} is); a slice aligned to only 4 bytes
 * passes {@link #runInt32}'s check but may be refused by the algorithm cuBLASLt chose.
 *
 * <p>The {@linkplain #requantizing requantizing form} has cuBLASLt write the int8 output itself in the same call (scale
 * type CUDA_R_32F, int8 C and D, a device vector of alphas): y = int8(alpha[c] · acc + beta · residual + bias'[c]) then
 * ReLU, with alpha[c] = s_x·s_w[c] / s_y, bias'[c] = bias[c] / s_y and beta = s_residual / s_y ({@link #alphas},
 * {@link #overScale}), so no int32 accumulator tensor goes through memory and no second kernel runs. It differs from
 * Tessel's epilogue by the order of its f32 operations (a code at a rounding tie may differ by one) and by saturating
 * to [-128, 127] where Tessel's epilogue and the CPU's emulation clamp to [-127, 127]; a Clip's bounds are not among
 * its epilogues, so a clamping activation other than ReLU takes the int32 form and Tessel's epilogue.
 */
public final class Int8Gemm implements AutoCloseable {
    /** M rows of activations, N output channels, K the contraction. */
    public record Spec(int m, int n, int k) {
        public Spec {
            if (m <= 0 || n <= 0 || k <= 0) throw new IllegalArgumentException("int8 GEMM sizes must be positive, got M=" + m + " N=" + n + " K=" + k);
            if (k % 4 != 0)
                throw new IllegalArgumentException("int8 GEMM [" + m + "x" + k + "] x [" + k + "x" + n + "]: K = " + k
                        + " is not a multiple of 4; cuBLASLt's int8 (IMMA) kernels need K and the leading dimensions multiples of 4 (pad K with zero codes)");
            if (n % 4 != 0)
                throw new IllegalArgumentException("int8 GEMM [" + m + "x" + k + "] x [" + k + "x" + n + "]: N = " + n
                        + " output channels is not a multiple of 4; cuBLASLt's int8 (IMMA) kernels need it (cuBLASLt's m and the leading dimension of the int32 output)");
        }

        public long accumulatorBytes() { return (long) m * n * 4; }
    }

    /** Default workspace offered to the heuristic. */
    public static final long WORKSPACE_BYTES = CublasLtGemm.WORKSPACE_BYTES;

    private final Spec spec;
    private final CublasLt.Plan plan;
    private final boolean requantizes;

    private Int8Gemm(CublasLt lt, Spec s, CublasLt.Epilogue requantizing, long biasAddress, int maxAlgos) {
        this.spec = s;
        this.requantizes = requantizing != null;
        CublasLt.Problem p = new CublasLt.Problem(true, false, s.n(), s.m(), s.k(), s.k(), s.k(), s.n(), CudaDataType.R_8I, CublasLt.ComputeType.C32I,
                requantizes ? requantizing : CublasLt.Epilogue.DEFAULT, requantizes ? CudaDataType.R_8I : CudaDataType.R_32I);
        this.plan = lt.plan(p, biasAddress, maxAlgos, WORKSPACE_BYTES);
    }

    /** Plans the int32 form (exact sums, then {@link Int8Epilogue}) and asks cuBLASLt's heuristic for up to {@code maxAlgos} algorithms. */
    public static Int8Gemm plan(CublasLt lt, Spec spec, int maxAlgos) { return new Int8Gemm(lt, spec, null, 0, maxAlgos); }

    /**
     * Plans the requantizing form (cuBLASLt writes int8 y: per-channel alphas, the f32 bias {@code bias} divided by the
     * output's scale ({@link #overScale}; null: none), ReLU or not, a residual through C); throws
     * {@link org.tessel.runtime.cuda.ffm.CublasException} when cuBLASLt has no algorithm for it on this GPU.
     */
    public static Int8Gemm requantizing(CublasLt lt, Spec spec, boolean relu, DeviceBuffer bias, int maxAlgos) {
        CublasLt.Epilogue e = bias == null ? (relu ? CublasLt.Epilogue.RELU : CublasLt.Epilogue.DEFAULT) : relu ? CublasLt.Epilogue.RELU_BIAS : CublasLt.Epilogue.BIAS;
        if (bias != null) check(bias, 4L * spec.n(), "bias [" + spec.n() + "] (f32, divided by the output's scale)");
        return new Int8Gemm(lt, spec, e, bias == null ? 0 : bias.address(), maxAlgos);
    }

    public Spec spec() { return spec; }

    /** True for the {@linkplain #requantizing requantizing form}. */
    public boolean requantizes() { return requantizes; }

    /** The requantizing form's alphas: s_x·s_w[c] ({@link Int8Weights#outputScales}) over the output's scale, in f32. */
    public static float[] alphas(float[] outputScales, float outScale) { return overScale(outputScales, outScale); }

    /** Each value over {@code outScale} in f32 (the requantizing form's bias: cuBLASLt adds it after the alphas scaled the sums). */
    public static float[] overScale(float[] v, float outScale) {
        Quantize.checkScale(outScale, "int8 GEMM output");
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = v[i] / outScale;
        return r;
    }

    /**
     * The requantizing form's run: y [M, N] (int8) = int8(alphas[c] · X W^T + beta · residual + bias'[c]) (ReLU), in one
     * cuBLASLt call with the heuristic's first algorithm; {@code residual} (int8 [M, N]) may be null (beta is then ignored).
     */
    public void runRequantizing(DeviceBuffer x, DeviceBuffer w, DeviceBuffer alphas, DeviceBuffer residual, float beta, DeviceBuffer y, DeviceBuffer workspace,
                                CudaStream stream) {
        if (!requantizes) throw new IllegalStateException("this int8 GEMM writes int32 sums; plan it with Int8Gemm.requantizing to have cuBLASLt write int8");
        check(x, (long) spec.m() * spec.k(), "activations X [" + spec.m() + ", " + spec.k() + "] (int8)");
        check(w, (long) spec.n() * spec.k(), "weights W [" + spec.n() + ", " + spec.k() + "] (int8, output channels first)");
        check(alphas, 4L * spec.n(), "alphas [" + spec.n() + "] (f32)");
        check(y, (long) spec.m() * spec.n(), "output [" + spec.m() + ", " + spec.n() + "] (int8)");
        if (residual != null) check(residual, (long) spec.m() * spec.n(), "residual [" + spec.m() + ", " + spec.n() + "] (int8)");
        plan.runAlphaVector(plan.algos().getFirst(), alphas.address(), w.address(), x.address(), residual == null ? 0f : beta, residual == null ? y.address() : residual.address(),
                y.address(), workspace == null ? 0 : workspace.address(), workspace == null ? 0 : workspace.bytes(), stream.handleAddress());
    }

    public List<CublasLt.Algo> algos() { return plan.algos(); }

    /** acc[M, N] (int32) = X[M, K] W[N, K]^T with the heuristic's {@code algoIndex}-th algorithm. */
    public void runInt32(int algoIndex, DeviceBuffer x, DeviceBuffer w, DeviceBuffer acc, DeviceBuffer workspace, CudaStream stream) {
        if (requantizes) throw new IllegalStateException("this int8 GEMM writes requantized int8 (Int8Gemm.requantizing); runRequantizing runs it");
        if (algoIndex < 0 || algoIndex >= plan.algos().size())
            throw new IllegalArgumentException("int8 GEMM has " + plan.algos().size() + " algorithms, asked for number " + algoIndex);
        check(x, (long) spec.m() * spec.k(), "activations X [" + spec.m() + ", " + spec.k() + "] (int8)");
        check(w, (long) spec.n() * spec.k(), "weights W [" + spec.n() + ", " + spec.k() + "] (int8, output channels first)");
        check(acc, spec.accumulatorBytes(), "accumulators [" + spec.m() + ", " + spec.n() + "] (int32)");
        plan.run(plan.algos().get(algoIndex), 1f, w.address(), x.address(), 0f, acc.address(), workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes(), stream.handleAddress());
    }

    /**
     * The whole INT8 GEMM: int32 sums into {@code acc} (scratch of {@link Spec#accumulatorBytes}),
     * then the epilogue into y [M, N] of {@code ep.out()}.
     */
    public void run(KernelCompiler kc, int algoIndex, DeviceBuffer x, DeviceBuffer w, DeviceBuffer acc, Int8Epilogue.Params ep,
                    DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        runInt32(algoIndex, x, w, acc, workspace, stream);
        Int8Epilogue.run(kc, Int8Epilogue.Accumulator.INT32, acc, spec.m(), spec.n(), ep, y, stream);
    }

    public void run(KernelCompiler kc, DeviceBuffer x, DeviceBuffer w, DeviceBuffer acc, Int8Epilogue.Params ep, DeviceBuffer y,
                    DeviceBuffer workspace, CudaStream stream) {
        run(kc, 0, x, w, acc, ep, y, workspace, stream);
    }

    /** A buffer holds {@code bytes} and starts 4-byte aligned (cuBLASLt's IMMA kernels need that). */
    static void check(DeviceBuffer b, long bytes, String what) {
        if (b == null) throw new IllegalArgumentException("int8 GEMM: no buffer for the " + what);
        if (b.bytes() < bytes) throw new IllegalArgumentException("int8 GEMM: the " + what + " buffer holds " + b.bytes() + " bytes, needs " + bytes);
        if (b.address() % 4 != 0)
            throw new IllegalArgumentException("int8 GEMM: the " + what + " buffer starts at 0x" + Long.toHexString(b.address()) + ", not 4-byte aligned as cuBLASLt's int8 kernels need");
    }

    @Override public void close() { plan.close(); }
}
