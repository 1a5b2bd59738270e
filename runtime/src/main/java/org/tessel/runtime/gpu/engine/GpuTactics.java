package org.tessel.runtime.gpu.engine;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tactic ids the GPU engine implements, one constant per catalogue tactic, and which builder
 * and kernel stand behind each. Every layer the engine builds reports one of these ids in its
 * {@link org.tessel.runtime.engine.LayerPlan}, optionally followed by a variant after '/' (the cuDNN
 * algorithm, the cuBLASLt heuristic index, the stem's form...): the builders take the ids from here,
 * so the search's catalogue (tactic-library) and the engine speak one vocabulary, and
 * TacticVocabularyLintTest checks this table against the catalogue both ways.
 */
public final class GpuTactics {
    private GpuTactics() {}

    // convolution
    public static final String CONV_FUSED = "cudnn.conv.fused_bias_act";
    public static final String CONV_STEM = "tessel.conv.stem";
    public static final String CONV_DEPTHWISE = "tessel.conv.depthwise_nhwc";
    public static final String CONV_INT8_DP4A = "tessel.conv.int8_dp4a";
    public static final String CONV_1X1_GEMM = "cublaslt.conv1x1";
    public static final String CONV_IM2COL_GEMM = "cublaslt.conv.im2col";
    public static final String CONV_MMA = "tessel.conv.mma";
    public static final String CONV_POOL = "tessel.conv.stem_pool";
    public static final String DECONV_DIRECT = "tessel.deconv.direct";
    public static final String DECONV_CUDNN = "cudnn.deconv";
    // recurrent
    public static final String RECURRENT = "tessel.recurrent";
    // multi-adapter LoRA
    public static final String LORA = "tessel.lora.bgmv";
    // GEMM
    public static final String GEMM = "cublaslt.gemm";
    public static final String GEMM_BIAS = "cublaslt.gemm.bias";
    public static final String GEMM_BIAS_RELU = "cublaslt.gemm.bias_relu";
    public static final String GEMM_BIAS_GELU = "cublaslt.gemm.bias_gelu";
    public static final String GEMM_BIAS_GELU_ERF = "cublaslt.gemm.bias_gelu_erf";
    public static final String GEMM_BIAS_TANH = "cublaslt.gemm.bias_tanh";
    public static final String MATMUL = "tessel.matmul";
    public static final String GEMV = "tessel.gemv";
    // LLM quantized MatMuls
    public static final String GEMV_WEIGHT_ONLY = "tessel.gemv.weight_only";
    public static final String GEMM_WEIGHT_ONLY = "tessel.gemm.weight_only";
    public static final String GEMM_W8A8 = "tessel.gemm.w8a8";
    // attention
    public static final String ATTENTION_MMA = "tessel.attention.mma";
    public static final String ATTENTION_BSHD = "tessel.attention.bshd";
    public static final String ATTENTION_PAGED = "tessel.attention.paged";
    public static final String ROPE = "tessel.rope";
    // index ops
    public static final String RANGE = "tessel.range";
    public static final String TRILU = "tessel.trilu";
    public static final String CUMULATIVE = "tessel.cumulative";
    public static final String ONEHOT = "tessel.onehot";
    public static final String TOPK = "tessel.topk";
    public static final String SCATTER_ELEMENTS = "tessel.scatter_elements";
    public static final String SCATTER_ND = "tessel.scatter_nd";
    // detection post-processing
    public static final String NMS_EFFICIENT = "tessel.nms.efficient";
    // elementwise
    public static final String ELTWISE = "tessel.eltwise";
    public static final String ELTWISE_FUSED = "tessel.eltwise.fused";
    public static final String CAST = "tessel.cast";
    // normalization
    public static final String LAYERNORM = "tessel.layernorm";
    public static final String RMSNORM = "tessel.rmsnorm";
    public static final String BATCHNORM = "tessel.batchnorm";
    public static final String SOFTMAX = "tessel.softmax";
    public static final String LRN = "tessel.lrn";
    // pooling
    public static final String POOL_MAX = "tessel.pool.max";
    public static final String POOL_AVG = "tessel.pool.avg";
    public static final String POOL_GLOBAL = "tessel.pool.global";
    // data movement
    public static final String VIEW = "tessel.view";
    public static final String COPY = "tessel.copy";
    public static final String TRANSPOSE = "tessel.transpose";
    public static final String CONCAT = "tessel.concat";
    public static final String SPLIT = "tessel.split";
    public static final String SPLIT_VIEW = "tessel.split.view";
    public static final String GATHER = "tessel.gather";
    public static final String REDUCE = "tessel.reduce";
    public static final String RESIZE = "tessel.resize";
    public static final String REFORMAT = "tessel.reformat.nchw_nhwc";
    public static final String SLICE = "tessel.slice";
    public static final String PAD = "tessel.pad";
    public static final String EXPAND = "tessel.expand";
    public static final String TILE = "tessel.tile";
    public static final String GATHER_ELEMENTS = "tessel.gather_elements";
    public static final String GATHER_ND = "tessel.gather_nd";
    public static final String FILL = "tessel.fill";
    public static final String CONSTANT = "tessel.constant";
    public static final String LOGSOFTMAX = "tessel.logsoftmax";
    public static final String HARDMAX = "tessel.hardmax";
    public static final String ARGMAX = "tessel.argmax";
    public static final String ARGMIN = "tessel.argmin";

    /** One implemented tactic: its id, the {@link TacticImplementation} that builds its layer, and the kernel (or library call) that runs. */
    public record Implementation(String id, String builder, String kernel) {}

    /** Every tactic the engine implements, in catalogue family order. */
    public static final List<Implementation> ALL = List.of(
            new Implementation(CONV_FUSED, "ConvLayers (Int8Layers at INT8)", "CudnnConv.runBiasActivation (+ Activation for Clip, Sigmoid, HardSwish, ...); at INT8 Int8Conv.cudnn + Int8Epilogue"),
            new Implementation(CONV_STEM, "ConvLayers (StemConv, ChannelPad)", "CnnKernels.stemFromNchw / padChannels + CudnnConv.runBiasActivation"),
            new Implementation(CONV_POOL, "ConvPoolLayers", "ConvPool (conv_pool.cu: conv tiles on mma.sync kept in shared memory, max-pooled, only the pooled output written)"),
            new Implementation(CONV_DEPTHWISE, "ConvLayers", "DepthwiseConvNhwc"),
            new Implementation(CONV_1X1_GEMM, "ConvLayers", "CublasLtGemm over the NHWC pixels (RELU_BIAS / BIAS / RELU epilogue, residual as C)"),
            new Implementation(CONV_IM2COL_GEMM, "ConvLayers", "Im2col (im2col.cu) into the workspace + CublasLtGemm over the pixels (epilogue as cublaslt.conv1x1's)"),
            new Implementation(CONV_MMA, "ConvLayers", "ConvMma (conv_mma.cu: implicit GEMM on mma.sync, K split over the grid, partial sums in the workspace)"),
            new Implementation(CONV_INT8_DP4A, "ConvLayers (Int8Layers)", "Int8Conv.tessel (conv_int8.cu, dp4a) + Int8Epilogue"),
            new Implementation(DECONV_DIRECT, "DeconvLayers", "DirectDeconv"),
            new Implementation(DECONV_CUDNN, "DeconvLayers", "CudnnDeconv"),
            new Implementation(RECURRENT, "RecurrentLayers", "RecurrentKernel"),
            new Implementation(LORA, "LoraLayers", "LoraBgmv"),
            new Implementation(GEMM, "GemmLayers", "CublasLtGemm"),
            new Implementation(GEMM_BIAS, "GemmLayers", "CublasLtGemm (BIAS epilogue)"),
            new Implementation(GEMM_BIAS_RELU, "GemmLayers", "CublasLtGemm (RELU_BIAS epilogue)"),
            new Implementation(GEMM_BIAS_GELU, "GemmLayers", "CublasLtGemm (GELU_BIAS epilogue)"),
            new Implementation(GEMM_BIAS_GELU_ERF, "GemmLayers", "CublasLtGemm (BIAS) + TransformerKernels.geluErf"),
            new Implementation(GEMM_BIAS_TANH, "GemmLayers", "CublasLtGemm (BIAS) + TransformerKernels.tanh"),
            new Implementation(MATMUL, "MatMulLayers", "BatchedMatMul"),
            new Implementation(GEMV, "GemvLayers", "Gemv"),
            new Implementation(GEMV_WEIGHT_ONLY, "QuantizedMatMulLayers", "WeightOnlyGemv"),
            new Implementation(GEMM_WEIGHT_ONLY, "QuantizedMatMulLayers", "WeightOnlyGemm"),
            new Implementation(GEMM_W8A8, "QuantizedMatMulLayers", "W8A8Gemm"),
            new Implementation(ATTENTION_MMA, "AttentionLayers", "MmaAttention"),
            new Implementation(ATTENTION_BSHD, "AttentionLayers", "TransformerKernels.attention"),
            new Implementation(ATTENTION_PAGED, "PagedAttentionLayers", "PagedAttentionKernel.appendAndDecode (one token) / append + prefill (a chunk)"),
            new Implementation(ROPE, "RopeLayers", "Rope"),
            new Implementation(ELTWISE, "EltwiseLayers", "EltwiseCodegen (one op)"),
            new Implementation(ELTWISE_FUSED, "EltwiseLayers", "EltwiseCodegen"),
            new Implementation(CAST, "EltwiseLayers", "EltwiseCodegen (Cast, CastLike)"),
            new Implementation(LAYERNORM, "NormLayers", "LayerNorm"),
            new Implementation(RMSNORM, "NormLayers", "LayerNorm.runRms"),
            new Implementation(BATCHNORM, "NormLayers", "MoreKernels"),
            new Implementation(SOFTMAX, "NormLayers", "Softmax"),
            new Implementation(LRN, "NormLayers", "CnnKernels.lrn"),
            new Implementation(POOL_MAX, "PoolLayers", "Pool2d (MAX) / CnnKernels.maxPoolNhwc8"),
            new Implementation(POOL_AVG, "PoolLayers", "Pool2d (AVG)"),
            new Implementation(POOL_GLOBAL, "PoolLayers", "GlobalPool (a block a plane or 32 NHWC channels over a slice of the positions; a second kernel adds the slices)"),
            new Implementation(VIEW, "DataMovementLayers", "none (aliased buffer)"),
            new Implementation(COPY, "DataMovementLayers", "DeviceBuffer.copyFromAsync"),
            new Implementation(TRANSPOSE, "DataMovementLayers", "TransformerKernels.transpose"),
            new Implementation(CONCAT, "DataMovementLayers", "CnnKernels.concatCopy"),
            new Implementation(SPLIT, "DataMovementLayers", "CnnKernels.splitCopy"),
            new Implementation(SPLIT_VIEW, "DataMovementLayers", "none (each part aliases its slice of the batched GEMM's output; copied where the memory plan did not slice it)"),
            new Implementation(GATHER, "DataMovementLayers", "TransformerKernels.gather"),
            new Implementation(REDUCE, "ReduceResizeLayers", "MoreKernels"),
            new Implementation(RESIZE, "ReduceResizeLayers", "MoreKernels"),
            new Implementation(REFORMAT, "DataMovementLayers", "Reformat (none when the stem absorbs it)"),
            new Implementation(SLICE, "WindowLayers", "DataMoveKernels.windowCopy"),
            new Implementation(PAD, "WindowLayers", "DataMoveKernels.windowCopy (constant, reflect, edge, wrap)"),
            new Implementation(EXPAND, "WindowLayers", "DataMoveKernels.windowCopy (step 0 on broadcast axes)"),
            new Implementation(TILE, "WindowLayers", "DataMoveKernels.windowCopy (coordinates wrap around each input axis)"),
            new Implementation(GATHER_ELEMENTS, "WindowLayers", "DataMoveKernels.gatherElements"),
            new Implementation(GATHER_ND, "WindowLayers", "DataMoveKernels.gatherNd"),
            new Implementation(FILL, "WindowLayers", "DataMoveKernels.fill"),
            new Implementation(CONSTANT, "WindowLayers", "DeviceBuffer.copyFromAsync of the value uploaded at build time"),
            new Implementation(LOGSOFTMAX, "AxisLayers", "Softmax.logSoftmax"),
            new Implementation(HARDMAX, "AxisLayers", "Softmax.hardmax"),
            new Implementation(ARGMAX, "AxisLayers", "Softmax.argReduce"),
            new Implementation(ARGMIN, "AxisLayers", "Softmax.argReduce"),
            new Implementation(RANGE, "IndexLayers", "IndexKernels.range"),
            new Implementation(TRILU, "IndexLayers", "IndexKernels.trilu"),
            new Implementation(CUMULATIVE, "IndexLayers", "IndexKernels.cumulative"),
            new Implementation(ONEHOT, "IndexLayers", "IndexKernels.oneHot"),
            new Implementation(TOPK, "IndexLayers", "IndexKernels.topK"),
            new Implementation(SCATTER_ELEMENTS, "IndexLayers", "IndexKernels.scatterElements"),
            new Implementation(SCATTER_ND, "IndexLayers", "IndexKernels.scatterNd"),
            new Implementation(NMS_EFFICIENT, "NmsLayers", "NmsKernels (nms.cu: a block per image)"));

    private static final Map<String, Implementation> BY_ID = index();

    private static Map<String, Implementation> index() {
        Map<String, Implementation> m = new LinkedHashMap<>();
        for (Implementation i : ALL)
            if (m.put(i.id(), i) != null) throw new IllegalStateException("GPU tactic '" + i.id() + "' is listed twice");
        return m;
    }

    /** True when the engine implements this catalogue id (without a variant). */
    public static boolean implemented(String id) { return BY_ID.containsKey(id); }

    /** The implementation of a catalogue id; fails naming the id when the engine has none. */
    public static Implementation of(String id) {
        Implementation i = BY_ID.get(id);
        if (i == null) throw new IllegalArgumentException("the GPU engine implements no tactic '" + id + "' (implemented: " + BY_ID.keySet() + ")");
        return i;
    }

    /** {@code id/part1/part2...}: a tactic with its variant (an algorithm, a form). */
    public static String variant(String id, String... parts) {
        StringBuilder sb = new StringBuilder(id);
        for (String p : parts) sb.append('/').append(p);
        return sb.toString();
    }

    /** A tactic's parts: the catalogue id, then the variant's parts ("id/a/b" is [id, a, b]). */
    public static List<String> parts(String tactic) { return List.of(tactic.split("/", -1)); }

    /**
     * Whether a tactic (a catalogue id, with its variant where it has one: {@code tessel.gemm.weight_only/dequant}) runs
     * one of NVIDIA's libraries, cuBLAS(Lt) or cuDNN, which the emulated device does not have: the cublaslt.* and cudnn.*
     * tactics, and the weight-only GEMM's dequant form (cuBLASLt multiplies the dequantized weight).
     */
    public static boolean usesNvidiaLibraries(String tactic) {
        return tactic.startsWith("cublaslt.") || tactic.startsWith("cudnn.") || tactic.equals(variant(GEMM_WEIGHT_ONLY, org.tessel.tactics.gemm.QuantizedMatMulTactic.GEMM_DEQUANT));
    }

    /** The catalogue id of a reported tactic: the part before the first '/'. */
    public static String catalogueId(String reported) {
        int slash = reported.indexOf('/');
        return slash < 0 ? reported : reported.substring(0, slash);
    }
}
