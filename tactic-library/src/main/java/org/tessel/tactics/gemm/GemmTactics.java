package org.tessel.tactics.gemm;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.gemm.GemmTactic.Epilogue;

/**
 * The GEMM tactics the GPU engine runs: cuBLASLt (tile heuristic, split-K workspace, INT8 IMMA)
 * and its fused epilogues, and cuBLASLt followed by a Tessel kernel for the activations cuBLASLt's
 * epilogues lack (exact GELU, Tanh).
 */
public final class GemmTactics {
    private GemmTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    /** The GPU engine's precisions (its Tessel activation kernels are built for f32 and f16 storage). */
    private static final Set<Precision> ENGINE = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16);
    /** cuBLASLt's heuristic scratch (NVIDIA recommends 4 MiB before Hopper; split-K partials come on top, from the cost model). */
    private static final long LT_WORKSPACE = 4L << 20;

    public static final GemmTactic CUBLASLT = new GemmTactic(new GemmTactic.Config("cublaslt.gemm",
            "cuBLASLt matmul of a plain Gemm (a C vector as the bias epilogue): tile heuristic, split-K workspace, INT8 IMMA", Epilogue.NONE, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias",
            "cuBLASLt matmul with the BIAS epilogue (a residual as C, beta = 1)", Epilogue.BIAS, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_RELU = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_relu",
            "cuBLASLt matmul with the RELU_BIAS epilogue (or RELU without a bias)", Epilogue.BIAS_RELU, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_GELU = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_gelu",
            "cuBLASLt matmul with the GELU_BIAS epilogue (tanh-approximate GELU)", Epilogue.BIAS_GELU, FLOAT, 128, 128, 32, 0.78, 0.73, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_GELU_ERF = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_gelu_erf",
            "cuBLASLt matmul with the BIAS epilogue, then Tessel's exact (erf) GELU in place", Epilogue.BIAS_GELU_ERF, ENGINE, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_TANH = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_tanh",
            "cuBLASLt matmul with the BIAS epilogue, then Tessel's Tanh in place", Epilogue.BIAS_TANH, ENGINE, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final MatMulTactic MATMUL = new MatMulTactic();

    public static List<Tactic> all() {
        return List.of(CUBLASLT, CUBLASLT_BIAS, CUBLASLT_BIAS_RELU, CUBLASLT_BIAS_GELU, CUBLASLT_BIAS_GELU_ERF, CUBLASLT_BIAS_TANH, MATMUL);
    }
}
