package org.tessel.tactics.conv;

import java.util.Arrays;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * Tactic that runs a convolution the way the GPU engine does: cuDNN's fused conv-bias-activation
 * call (on a plain Conv too, with a zero bias and the identity), or the few-channel stem form that
 * pads the input first. The cuDNN algorithm the builder's tuner picks (implicit GEMM with or
 * without precomputed indices, Winograd...) is a variant of the fused tactic, not a tactic of its
 * own; {@link ConvTactics#algorithmModels()} price those algorithms for the tuner. cuDNN's legacy
 * API has no FP8 convolution: {@code cublaslt.conv1x1} and {@code cublaslt.conv.im2col} run FP8 ones.
 * The algorithm and its knobs are in {@link Config};
 * the named instances are in {@link ConvTactics}.
 */
public final class ConvTactic extends BaseTactic {
    /** The algorithm, which decides what nodes and shapes the tactic takes. */
    public enum Algo {
        /** cuDNN IMPLICIT_GEMM: im2col on the fly, no workspace, any geometry. */
        IMPLICIT_GEMM,
        /** cuDNN IMPLICIT_PRECOMP_GEMM: im2col offsets precomputed into a small workspace; the usual winner. */
        IMPLICIT_PRECOMP_GEMM,
        /** cuDNN WINOGRAD_NONFUSED, F(4x4, 3x3): 3x3, stride 1, no groups; transforms in a workspace. */
        WINOGRAD,
        /** cudnnConvolutionBiasActivationForward: conv + bias (+ residual) + Relu or identity, one kernel; Clip adds Tessel's clamp kernel. */
        FUSED_BIAS_ACT,
        /**
         * The f16 NHWC stem (few input channels): a Tessel kernel copies the input into a channel-padded
         * NHWC buffer (from NCHW when it is the network input), then cuDNN's fused call runs on it.
         */
        STEM
    }

    /**
     * @param tensorEfficiency share of the tensor-core peak at an ideal shape (TF32, FP16, BF16, INT8)
     * @param cudaEfficiency   share of the FP32 CUDA-core peak at FP32
     * @param memoryEfficiency share of bandwidth it streams activations and weights at (NHWC; NCHW pays more on tensor cores)
     */
    public record Config(String id, String summary, Algo algo, Set<Precision> precisions, Set<Layout> layouts,
                         int tileM, int tileN, int tileK, double tensorEfficiency, double cudaEfficiency, double memoryEfficiency) {}

    /**
     * Ops a fused conv_bias_act body may hold for the engine (ConvLayers refuses any other): Relu is
     * CUDNN_ACTIVATION_RELU; Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu and Gelu run as Tessel's activation
     * kernel after cuDNN's ReLU or identity ({@link NodeFacts#POST_ACTIVATIONS}); none is IDENTITY.
     */
    static final Set<String> ENGINE_BODY_OPS;
    static {
        var ops = new java.util.HashSet<>(Set.of("Conv", "Add", "Relu"));
        ops.addAll(NodeFacts.POST_ACTIVATIONS);
        ENGINE_BODY_OPS = Set.copyOf(ops);
    }
    /** The stem form pads inputs of at most this many channels (GpuEngine's ChannelPad). */
    public static final int STEM_MAX_CHANNELS = 64;
    /**
     * cuDNN's tensor-core convolutions are channels-last: given NCHW tensors it transposes the input, the filter and the
     * output in kernels of their own on every call, each reading and writing its tensor once. An H100 timed it (the
     * measuring tuner's cache of ResNet-50 b1, 2026-12-05): every FP16/BF16 convolution 6-18 us slower in NCHW than in
     * NHWC (a 3x3 256-channel one 20.0 against 10.4 us), TF32 likewise; at FP32 (CUDA cores) NCHW was the faster,
     * NHWC 1.2-1.25x slower.
     */
    static final int NCHW_TENSOR_CORE_TRANSPOSES = 3;
    static final double NCHW_TENSOR_CORE_FACTOR = 0.8, FP32_NHWC_FACTOR = 0.8;
    /**
     * cuDNN's fused call runs BF16 convolutions at about 3/4 of FP16's rate: on an H100 (2026-12-05) ResNet-50's all-BF16
     * NHWC engine ran b32 in 1.506 ms against the all-FP16 one's 1.132 ms, and b1 in 0.355 against 0.339 ms (the tuner's
     * one-layer timings at b1 were alike within noise). The model charges BF16 both on throughput and on the main loop's
     * latency floor (a shorter K step), so it never prices a BF16 convolution below FP16's.
     */
    static final double BF16_TENSOR_CORE_FACTOR = 0.75;
    /**
     * The K step of cuDNN's CUDA-core (FP32) convolution main loop: the H100's b1 timings fit K / 4 iterations at the
     * model's 100 ns each (ResNet-50, NCHW: 1x1 2048->512 51.7 us, 1x1 1024->256 28.7 us, 3x3 256->256 at 14x14 57.6 us,
     * 3x3 512->512 109.8 us), where tensor-core kernels step 32 at a time.
     */
    static final int CUDA_CORE_TILE_K = 4;

    /**
     * cuDNN's INT8 convolution as the engine calls it (the legacy INT8_EXT_CONFIG: int8 NHWC in, f32 NHWC out, which
     * {@code Int8Conv} needs for its per-channel epilogue) has no tensor-core kernel on Hopper: an H100 (2026-12-06,
     * {@code Int8ConvBench} at batch 256, nine ResNet-50 shapes) ran it at 17-23 TOPS, 0.25-0.34 of the FP32 CUDA-core
     * peak, against 93-472 TFLOPS for the FP16 NHWC convolution of the same shape; cudnnFind's best algorithm for that
     * configuration was no faster (IMPLICIT_GEMM, default math). The same convolution with int8 out (INT8_CONFIG, one
     * scalar scale) ran on tensor cores at 36-470 TOPS, but a scalar scale cannot carry per-channel weight scales. The
     * model prices the f32-out form on CUDA cores at this share of the FP32 peak, so the search stops choosing INT8
     * convolutions that ran 17x slower than FP16 (ResNet-50 b256: 125.2 ms against 7.34 ms, same machine).
     */
    static final double INT8_EXT_CUDA_CORE_EFFICIENCY = 0.3;

    /** DRAM sector size: the unit a load moves, used or not. */
    static final int SECTOR_BYTES = 32;

    private static final Set<String> CONV = Set.of("Conv");

    private final Config config;

    public ConvTactic(Config c) {
        super(c.id(), c.summary(), Backend.GPU, c.precisions(), c.layouts());
        this.config = c;
    }

    public Config config() { return config; }

    /** The engine's tactics (the fused call and the stem) take plain convolutions and fused chains; the algorithm models plain ones. */
    private boolean engineAlgo() { return config.algo == Algo.FUSED_BIAS_ACT || config.algo == Algo.STEM; }

    @Override public boolean appliesTo(Node n) {
        if (engineAlgo() && n.body() != null) return NodeFacts.isConvBiasAct(n);
        return n.body() == null && n.opName().equals("Conv");
    }

    @Override protected String appliesToText() { return engineAlgo() ? "Conv and fused conv_bias_act" : "Conv"; }

    private Node conv(Node n) { return NodeFacts.anchor(n, CONV); }

    /** True when the engine builds this convolution as the stem form (GpuEngine.conv asks StemConv and ChannelPad first). */
    static boolean stemShape(ConvGeometry g, Precision p, Layout l) {
        return p == Precision.FP16 && l == Layout.NHWC && g.group() == 1 && g.cin() % 8 != 0 && g.cin() <= STEM_MAX_CHANNELS;
    }

    /**
     * What the engine's fused-convolution builder refuses in a node (2-D only, symmetric pads, the body's ops); null when fine.
     */
    private static String engineWhyNot(Node n, Node conv, ConvGeometry g, Precision p) {
        if (g.spatialRank() != 2) return "the GPU engine runs 2-D convolutions only (got " + g.spatialRank() + "-D)";
        long[] pads = conv.attrs().getInts("pads", new long[] {0, 0, 0, 0});
        if (pads.length == 4 && (pads[0] != pads[2] || pads[1] != pads[3])) return "cuDNN takes symmetric pads (got " + Arrays.toString(pads) + ")";
        if (n.body() != null)
            for (Node b : n.body().nodes())
                if (!ENGINE_BODY_OPS.contains(b.opName())) return "the engine's conv_bias_act body holds Conv, Add and Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu or Gelu (got " + b.opName() + ")";
        Node act = NodeFacts.activation(n);
        String a = act == null ? null : act.opName();
        // the INT8 epilogue requantizes after its activation: ReLU or Clip
        if (p == Precision.INT8 && a != null && !a.equals("Relu") && !a.equals("Clip")) return "INT8 takes Relu, Clip or no activation (got " + a + ")";
        return null;
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        ConvGeometry g = ConvGeometry.of(conv(n));
        if (g.spatialRank() < 1 || g.spatialRank() > 3) return "supports 1-D to 3-D convolutions (got " + g.spatialRank() + "-D)";
        if (p == Precision.INT8) {
            // cuDNN's int8 convolutions take channels in vectors of 4
            if (l != Layout.NHWC) return "INT8 needs NHWC layout (cuDNN's int8 convolutions are channels-last)";
            if (g.cin() / g.group() % 4 != 0 || g.cout() / g.group() % 4 != 0)
                return "INT8 needs input and output channels per group that are multiples of 4 (got " + g.cin() / g.group() + " -> " + g.cout() / g.group() + ")";
            // cuDNN 9's int8 convolution answers CUDNN_STATUS_NOT_SUPPORTED for dilated filters (H100, 2026-12-06)
            if (!g.unitDilation())
                return "INT8 takes no dilation (cuDNN's int8 convolution refuses it; tessel.conv.int8_dp4a takes it)";
        }
        if (engineAlgo()) {
            String why = engineWhyNot(n, conv(n), g, p);
            if (why != null) return why;
        }
        switch (config.algo) {
            case WINOGRAD -> {
                if (g.spatialRank() != 2) return "Winograd F(4x4,3x3) is 2-D only (got " + g.spatialRank() + "-D)";
                if (!g.kernelIs(3, 3)) return "Winograd needs a 3x3 kernel (got " + g.kernelText() + ")";
                if (!g.unitStride()) return "Winograd needs stride 1 (got " + Arrays.toString(g.strides()) + ")";
                if (!g.unitDilation()) return "Winograd needs dilation 1 (got " + Arrays.toString(g.dilations()) + ")";
                if (g.group() != 1) return "Winograd does not support grouped convolution (group " + g.group() + ")";
            }
            case FUSED_BIAS_ACT -> {
                // the builder hands these shapes to other kernels, so this tactic would never be what runs
                if (DepthwiseConvTactic.engineDepthwise(g, l) && !NodeFacts.hasResidualAdd(n))
                    return "a depthwise NHWC convolution without a residual runs Tessel's depthwise kernel (tessel.conv.depthwise_nhwc)";
                if (stemShape(g, p, l))
                    return "an f16 NHWC convolution over " + g.cin() + " input channels (not a multiple of 8) runs as tessel.conv.stem";
            }
            case STEM -> {
                if (g.group() != 1) return "the stem form does not do grouped convolution (group " + g.group() + ")";
                if (g.cin() % 8 == 0) return "needs an input channel count that is not a multiple of 8 (got " + g.cin() + "); cuDNN's fused call takes it as it is";
                if (g.cin() > STEM_MAX_CHANNELS) return "pads at most " + STEM_MAX_CHANNELS + " input channels (got " + g.cin() + ")";
            }
            default -> { }
        }
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) {
        Node c = conv(n);
        if (c == null) return 0;
        int b = p.storage().bytes();
        return switch (config.algo) {
            case IMPLICIT_GEMM -> 0;
            // im2col offsets for every K index (one int per filter tap per input channel), double-buffered
            case IMPLICIT_PRECOMP_GEMM, FUSED_BIAS_ACT, STEM -> 2L * 4 * Work.gemmDims(c)[2];
            case WINOGRAD -> {
                // F(4x4,3x3): 6x6 transformed tiles of input, filter and output
                var x = c.input(0).type().shape();
                var y = c.output().type().shape();
                long tiles = (long) Math.ceilDiv(y.dim(2), 4) * Math.ceilDiv(y.dim(3), 4);
                long cin = x.dim(1), cout = y.dim(1), batch = x.dim(0);
                yield 36L * b * (batch * cin * tiles + cin * cout + batch * cout * tiles);
            }
        };
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // cuDNN's IMPLICIT_GEMM has no tensor-core kernels (NVIDIA lists tensor ops for IMPLICIT_PRECOMP_GEMM
        // and the Winograd/FFT paths only): on an H200 it ran FP16 NHWC convolutions 10-45x slower than
        // IMPLICIT_PRECOMP_GEMM (48 timed layers, runtime/src/test/resources/tuning/h200-autotune-cache.txt)
        boolean int8Ext = p == Precision.INT8;
        boolean tc = p != Precision.FP32 && !int8Ext && !(config.algo == Algo.IMPLICIT_GEMM && !p.quantized());
        double eff = int8Ext ? INT8_EXT_CUDA_CORE_EFFICIENCY : tc ? config.tensorEfficiency : config.cudaEfficiency;
        double mem = config.memoryEfficiency;
        Node c = conv(n);
        int transposes = 0;
        if (tc && l == Layout.NCHW && !p.quantized()) {
            eff *= NCHW_TENSOR_CORE_FACTOR;
            transposes = NCHW_TENSOR_CORE_TRANSPOSES;
            if (c != null) {
                // the transposes read and write x, w and y once more: the same bandwidth, more bytes
                double io = Work.of(n, p).bytes(), b = p.storage().bytes();
                double extra = 2 * b * (c.input(0).type().numElements() + c.input(1).type().numElements() + c.output().type().numElements());
                if (io > 0) mem *= io / (io + extra);
            }
        }
        if (p == Precision.FP32 && l == Layout.NHWC && config.algo != Algo.WINOGRAD) eff *= FP32_NHWC_FACTOR;
        if (p == Precision.BF16 && tc) eff *= BF16_TENSOR_CORE_FACTOR;
        if (l == Layout.NHWC && c != null) {
            // a group's channels are a narrow slice of each NHWC pixel: loads use part of each 32-byte sector
            ConvGeometry g = ConvGeometry.of(c);
            double slice = (double) g.cin() / g.group() * p.storage().bytes();
            if (g.group() > 1 && slice < SECTOR_BYTES) mem *= Math.max(slice, 2) / SECTOR_BYTES;
        }
        int align = switch (p) {
            case FP32 -> 1;
            case TF32 -> 4;
            case FP16, BF16 -> 8;
            case INT8, FP8 -> 16;
        };
        if (config.algo == Algo.WINOGRAD) return new TacticFeatures(eff, tc, 0, 0, 0, 1, mem, 3 + transposes); // input transform, batched GEMMs, output transform
        // the stem's padding copy and the activation kernel after the epilogue (Clip, Sigmoid, ...) are kernels of their own
        int launches = 1 + transposes + (config.algo == Algo.STEM ? 1 : 0) + (NodeFacts.postActivation(n) ? 1 : 0);
        // forward convolutions do not split K: a small-batch conv with a deep K runs its whole main loop
        int tileK = !tc ? CUDA_CORE_TILE_K : p == Precision.BF16 ? (int) Math.round(config.tileK * BF16_TENSOR_CORE_FACTOR) : config.tileK;
        return new TacticFeatures(eff, tc, config.tileM, config.tileN, tileK, align, mem, launches, 1);
    }
}
