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
 * epilogues lack (exact GELU, Tanh); Tessel's MatMul for products cuBLASLt does not take, and its GEMV for a MatMul by
 * constant weights at few rows (decode projections); and Tessel's
 * kernels of the LLM quantized MatMuls (weight-only GEMV and GEMM, W8A8).
 */
public final class GemmTactics {
    private GemmTactics() {}

    private static final Set<Precision> ALL = EnumSet.allOf(Precision.class);
    private static final Set<Precision> FLOAT = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16);
    /**
     * The precisions of the epilogues cuBLASLt lacks (exact GELU, Tanh): at the float precisions Tessel's kernel runs in
     * place after the matmul (f32, f16 and bf16 storage); at FP8 Tessel's FP8 epilogue applies them as it dequantizes.
     * Not INT8: its epilogue takes bias, residual and ReLU only.
     */
    private static final Set<Precision> ENGINE = EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16, Precision.BF16, Precision.FP8);
    /** cuBLASLt's heuristic scratch (NVIDIA recommends 4 MiB before Hopper; split-K partials come on top, from the cost model). */
    /** cuBLASLt's workspace, as the tactics price it. */
    static final long LT_WORKSPACE = 4L << 20;

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

    /** A MatMul by constant weights at few rows, the decode step's projections (the runtime's Gemv). */
    public static final GemvTactic GEMV = new GemvTactic();

    /** The decode step of a weight-only quantized MatMul (the runtime's WeightOnlyGemv). */
    public static final QuantizedMatMulTactic WEIGHT_ONLY_GEMV = new QuantizedMatMulTactic("tessel.gemv.weight_only",
            "Tessel weight-only GEMV (INT8/INT4 codes, group-wise scales, optional zero points): a warp per two weight rows, 16-byte loads, dequantized in registers, f32 sums; variants plain, staged, mma",
            QuantizedMatMulTactic.Kind.WEIGHT_ONLY_GEMV);

    /** A weight-only quantized MatMul of any row count (the runtime's WeightOnlyGemm). */
    public static final QuantizedMatMulTactic WEIGHT_ONLY_GEMM = new QuantizedMatMulTactic("tessel.gemm.weight_only",
            "Tessel weight-only tiled GEMM: 64x64 tiles, each K slice of INT8/INT4 codes decoded once into shared memory; variants mma (tensor cores, f16, each slice's sums scaled once), dequant (the weight dequantized into the workspace, then cuBLASLt), tiled (f32 on CUDA cores)",
            QuantizedMatMulTactic.Kind.WEIGHT_ONLY_GEMM);

    /** SmoothQuant's W8A8 MatMul (the runtime's W8A8Gemm). */
    public static final QuantizedMatMulTactic W8A8_GEMM = new QuantizedMatMulTactic("tessel.gemm.w8a8",
            "Tessel W8A8 tiled GEMM: activations quantized per tensor as a 32x32 tile loads them, exact int32 sums by dp4a, one scale per output",
            QuantizedMatMulTactic.Kind.W8A8_GEMM);

    /** The prefix of the batched form's variant: {@code batched_P} for P parts. */
    private static final String BATCHED = "batched_";

    /**
     * The variant of a fused GEMM's batched form, {@code batched_P}: a merged GEMM of P equal parts of N columns (the
     * merge's chains) run as one strided-batched cuBLASLt matmul of batch P, the shared input at batch stride 0, each
     * part's weights and bias its own, the output the parts one after another ([P][M][N]), so a Split planned as
     * {@code tessel.split.view} hands each chain its part with no copy. Priced as the one wide GEMM it replaces.
     */
    public static String batchedVariant(int parts) {
        if (parts < 2) throw new IllegalArgumentException("a batched GEMM has two or more parts, got " + parts);
        return BATCHED + parts;
    }

    /** True for the tactics that run a fused GEMM in its {@link #batchedVariant batched form}: cuBLASLt's epilogue tactics. */
    public static boolean runsBatched(String tacticId) {
        return java.util.Set.of(CUBLASLT_BIAS.id(), CUBLASLT_BIAS_RELU.id(), CUBLASLT_BIAS_GELU.id(), CUBLASLT_BIAS_GELU_ERF.id(), CUBLASLT_BIAS_TANH.id())
                .contains(tacticId);
    }

    /** The parts of a {@link #batchedVariant}, or 0 when {@code variant} is not one. */
    public static int batchedParts(String variant) {
        if (variant == null || !variant.startsWith(BATCHED)) return 0;
        try {
            int p = Integer.parseInt(variant.substring(BATCHED.length()));
            return p >= 2 ? p : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    public static List<Tactic> all() {
        return List.of(CUBLASLT, CUBLASLT_BIAS, CUBLASLT_BIAS_RELU, CUBLASLT_BIAS_GELU, CUBLASLT_BIAS_GELU_ERF, CUBLASLT_BIAS_TANH, MATMUL, GEMV,
                WEIGHT_ONLY_GEMV, WEIGHT_ONLY_GEMM, W8A8_GEMM);
    }
}
