package org.tessel.runtime.gpu.kernels;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.CudaDataType;

/**
 * Tactics {@code cublaslt.gemm.default}, {@code cublaslt.gemm.relu}, {@code cublaslt.gemm.bias},
 * {@code cublaslt.gemm.bias_relu}, {@code cublaslt.gemm.gelu} and {@code cublaslt.gemm.bias_gelu}:
 * a row-major GEMM Y[M,N] = act(X[M,K] W + bias[N]) through cuBLASLt with the epilogue fused, W
 * given as [K,N] or (transposed, as in Gemm with transB=1) [N,K]. Row-major Y is column-major
 * Y^T = W^T X^T, so cuBLASLt computes with A = W, B = X and a bias along D's rows.
 *
 * <p>With {@code parts} P > 1 it is a strided batch of P GEMMs on one input: Y_j = act(X W_j + bias_j) for
 * j < P, the weights [P][K][N] (or [P][N][K]), the biases [P][N], the outputs [P][M][N] one after another; X
 * is every batch's B at batch stride 0. A merged GEMM of equal parts runs so, which makes each part's output a
 * contiguous slice (a Split of it is views).
 */
public final class CublasLtGemm implements AutoCloseable {
    /** Element type and math of the product. */
    public enum Precision {
        FP32(DType.F32, CudaDataType.R_32F, CublasLt.ComputeType.C32F),
        TF32(DType.F32, CudaDataType.R_32F, CublasLt.ComputeType.C32F_FAST_TF32),
        FP16(DType.F16, CudaDataType.R_16F, CublasLt.ComputeType.C32F),
        BF16(DType.BF16, CudaDataType.R_16BF, CublasLt.ComputeType.C32F);

        final DType dtype;
        final CudaDataType data;
        final CublasLt.ComputeType compute;
        Precision(DType d, CudaDataType t, CublasLt.ComputeType c) { dtype = d; data = t; compute = c; }
        public DType dtype() { return dtype; }
    }

    /** @param n the columns of one part; {@code parts} GEMMs of [m, k] x [k, n] share the input (1: a plain GEMM) */
    public record Spec(int m, int n, int k, boolean weightTransposed, Precision precision, CublasLt.Epilogue epilogue, int parts) {
        public Spec {
            if (parts < 1) throw new IllegalArgumentException("a GEMM has at least one part, got " + parts);
        }

        /** One GEMM. */
        public Spec(int m, int n, int k, boolean weightTransposed, Precision precision, CublasLt.Epilogue epilogue) {
            this(m, n, k, weightTransposed, precision, epilogue, 1);
        }

        /** The batch of cuBLASLt's problem: per part the weights' and outputs' strides, the input shared (stride 0). */
        CublasLt.Batch batch() {
            return parts == 1 ? CublasLt.Batch.NONE : new CublasLt.Batch(parts, (long) k * n, 0, (long) m * n, n);
        }
    }

    /** Default workspace offered to the heuristic. */
    public static final long WORKSPACE_BYTES = 32L << 20;

    private final Spec spec;
    private final CublasLt.Plan plan;

    private CublasLtGemm(CublasLt lt, Spec s, DeviceBuffer bias, int maxAlgos) {
        this.spec = s;
        CublasLt.Problem p = new CublasLt.Problem(s.weightTransposed(), false, s.n(), s.m(), s.k(),
                s.weightTransposed() ? s.k() : s.n(), s.k(), s.n(), s.precision().data, s.precision().compute, s.epilogue());
        if (s.epilogue().hasBias() && bias == null) throw new IllegalArgumentException("epilogue " + s.epilogue() + " needs a bias buffer of " + (long) s.parts() * s.n() + " elements");
        this.plan = lt.plan(p, s.batch(), bias == null ? 0 : bias.address(), maxAlgos, WORKSPACE_BYTES);
    }

    /** Plans the GEMM and asks the heuristic for up to {@code maxAlgos} algorithms. */
    public static CublasLtGemm plan(CublasLt lt, Spec spec, DeviceBuffer bias, int maxAlgos) { return new CublasLtGemm(lt, spec, bias, maxAlgos); }

    public Spec spec() { return spec; }

    public List<CublasLt.Algo> algos() { return plan.algos(); }

    /** Y = act(X W + bias) with the heuristic's {@code algoIndex}-th algorithm. */
    public void run(int algoIndex, DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        CublasLt.Algo algo = plan.algos().get(algoIndex);
        plan.run(algo, 1f, w.address(), x.address(), 0f, y.address(), workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes(), stream.handleAddress());
    }

    public void run(DeviceBuffer x, DeviceBuffer w, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) { run(0, x, w, y, workspace, stream); }

    /** Y = act(X W + bias + beta C) with C of Y's shape (a residual with beta = 1; may be Y itself). */
    public void run(int algoIndex, DeviceBuffer x, DeviceBuffer w, float beta, DeviceBuffer c, DeviceBuffer y, DeviceBuffer workspace, CudaStream stream) {
        CublasLt.Algo algo = plan.algos().get(algoIndex);
        plan.run(algo, 1f, w.address(), x.address(), beta, c.address(), y.address(), workspace == null ? 0 : workspace.address(),
                workspace == null ? 0 : workspace.bytes(), stream.handleAddress());
    }

    @Override public void close() { plan.close(); }
}
