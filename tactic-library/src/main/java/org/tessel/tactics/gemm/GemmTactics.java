package org.tessel.tactics.gemm;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.gemm.GemmTactic.Epilogue;

/**
 * The GEMM tactics: legacy cuBLAS (fixed large tile, no workspace), cuBLASLt (tile heuristic,
 * split-K workspace, INT8 IMMA) and its fused epilogues, and a generated kernel for epilogues
 * cuBLASLt lacks (Tanh, exact GELU, Sigmoid...).
 */
public final class GemmTactics {
    private GemmTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    /** cuBLASLt's heuristic scratch (NVIDIA recommends 4 MiB before Hopper; split-K partials come on top, from the cost model). */
    private static final long LT_WORKSPACE = 4L << 20;

    public static final GemmTactic CUBLAS = new GemmTactic(new GemmTactic.Config("cublas.gemm",
            "cuBLAS gemmEx / strided-batched (split-K partials in the handle's workspace)", Epilogue.NONE, FLOAT, 128, 128, 32, 0.75, 0.75, 0.85, 0));

    public static final GemmTactic CUBLASLT = new GemmTactic(new GemmTactic.Config("cublaslt.gemm",
            "cuBLASLt matmul: tile heuristic, split-K workspace, INT8 IMMA", Epilogue.NONE, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias",
            "cuBLASLt matmul with the BIAS epilogue", Epilogue.BIAS, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_RELU = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_relu",
            "cuBLASLt matmul with the RELU_BIAS epilogue", Epilogue.BIAS_RELU, ALL, 128, 128, 32, 0.8, 0.75, 0.85, LT_WORKSPACE));

    public static final GemmTactic CUBLASLT_BIAS_GELU = new GemmTactic(new GemmTactic.Config("cublaslt.gemm.bias_gelu",
            "cuBLASLt matmul with the GELU_BIAS epilogue (tanh-approximate GELU)", Epilogue.BIAS_GELU, FLOAT, 128, 128, 32, 0.78, 0.73, 0.85, LT_WORKSPACE));

    public static final GemmTactic FUSED_EPILOGUE = new GemmTactic(new GemmTactic.Config("tessel.gemm.fused_epilogue",
            "Tessel-generated GEMM with any bias/activation epilogue (exact GELU, Tanh, Sigmoid...)", Epilogue.ANY, ALL, 128, 128, 64, 0.7, 0.65, 0.85, 0));

    public static List<Tactic> all() { return List.of(CUBLAS, CUBLASLT, CUBLASLT_BIAS, CUBLASLT_BIAS_RELU, CUBLASLT_BIAS_GELU, FUSED_EPILOGUE); }
}
