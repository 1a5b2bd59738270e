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
 * Tactic that runs a convolution as cuDNN (or Tessel's own generated kernel) would: implicit GEMM
 * with or without precomputed indices, Winograd, the fused conv-bias-activation entry point, a
 * generated kernel with an arbitrary epilogue, or backward-data for ConvTranspose. The algorithm
 * and its knobs are in {@link Config}; the named instances are in {@link ConvTactics}.
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
        /** cudnnConvolutionBiasActivationForward: conv + bias (+ residual) + Relu or identity, one kernel. */
        FUSED_BIAS_ACT,
        /** A Tessel-generated NHWC implicit GEMM with any epilogue (bias, residual, every activation). */
        FUSED_EPILOGUE,
        /** cuDNN backward-data as ConvTranspose. */
        DGRAD
    }

    /**
     * @param tensorEfficiency share of the tensor-core peak at an ideal shape (TF32, FP16, BF16, INT8)
     * @param cudaEfficiency   share of the FP32 CUDA-core peak at FP32
     * @param memoryEfficiency share of bandwidth it streams activations and weights at (NHWC; NCHW pays more on tensor cores)
     */
    public record Config(String id, String summary, Algo algo, Set<Precision> precisions, Set<Layout> layouts,
                         int tileM, int tileN, int tileK, double tensorEfficiency, double cudaEfficiency, double memoryEfficiency) {}

    /** cuDNN's fused entry point takes these activations (CUDNN_ACTIVATION_RELU; none is IDENTITY). */
    static final Set<String> CUDNN_FUSED_ACTIVATIONS = Set.of("Relu");
    /** cuDNN convolutions on tensor cores transpose NCHW tensors internally: a share of peak and of bandwidth lost. */
    static final double NCHW_TENSOR_CORE_FACTOR = 0.8, NCHW_TENSOR_CORE_MEMORY_FACTOR = 0.7;

    /** DRAM sector size: the unit a load moves, used or not. */
    static final int SECTOR_BYTES = 32;

    private static final Set<String> CONV = Set.of("Conv"), DECONV = Set.of("ConvTranspose");

    private final Config config;

    public ConvTactic(Config c) {
        super(c.id(), c.summary(), Backend.GPU, c.precisions(), c.layouts());
        this.config = c;
    }

    public Config config() { return config; }

    private boolean fusedAlgo() { return config.algo == Algo.FUSED_BIAS_ACT || config.algo == Algo.FUSED_EPILOGUE; }

    @Override public boolean appliesTo(Node n) {
        if (config.algo == Algo.DGRAD) return n.body() == null && n.opName().equals("ConvTranspose");
        if (fusedAlgo()) return "conv_bias_act".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, CONV) != null;
        return n.body() == null && n.opName().equals("Conv");
    }

    @Override protected String appliesToText() {
        return switch (config.algo) {
            case DGRAD -> "ConvTranspose";
            case FUSED_BIAS_ACT, FUSED_EPILOGUE -> "fused conv_bias_act";
            default -> "Conv";
        };
    }

    private Node conv(Node n) { return NodeFacts.anchor(n, config.algo == Algo.DGRAD ? DECONV : CONV); }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        ConvGeometry g = ConvGeometry.of(conv(n));
        if (g.spatialRank() < 1 || g.spatialRank() > 3) return "supports 1-D to 3-D convolutions (got " + g.spatialRank() + "-D)";
        if (p == Precision.INT8) {
            if (l != Layout.NHWC) return "INT8 needs NHWC layout (cuDNN's int8 convolutions are channels-last)";
            if (g.cin() / g.group() % 4 != 0 || g.cout() / g.group() % 4 != 0)
                return "INT8 needs input and output channels per group that are multiples of 4 (got " + g.cin() / g.group() + " -> " + g.cout() / g.group() + ")";
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
                Node act = NodeFacts.activation(n);
                if (act != null && !CUDNN_FUSED_ACTIVATIONS.contains(act.opName()))
                    return "cuDNN's fused conv-bias-activation takes Relu or no activation (got " + act.opName() + ")";
            }
            case FUSED_EPILOGUE -> {
                // channel counts off the 16-byte vector width fall back to narrow loads: the cost
                // model's alignment penalty prices that, so only groups are refused
                if (g.group() != 1) return "the generated kernel does not do grouped convolution (group " + g.group() + "); depthwise tactics do";
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
            case IMPLICIT_GEMM, FUSED_EPILOGUE, DGRAD -> 0;
            // im2col offsets for every K index (one int per filter tap per input channel), double-buffered
            case IMPLICIT_PRECOMP_GEMM, FUSED_BIAS_ACT -> 2L * 4 * Work.gemmDims(c)[2];
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
        boolean tc = p != Precision.FP32 && !(config.algo == Algo.IMPLICIT_GEMM && p != Precision.INT8);
        double eff = tc ? config.tensorEfficiency : config.cudaEfficiency;
        double mem = config.memoryEfficiency;
        if (tc && l == Layout.NCHW && p != Precision.INT8) {
            eff *= NCHW_TENSOR_CORE_FACTOR;
            mem *= NCHW_TENSOR_CORE_MEMORY_FACTOR;
        }
        Node c = conv(n);
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
            case INT8 -> 16;
        };
        if (config.algo == Algo.WINOGRAD) return new TacticFeatures(eff, tc, 0, 0, 0, 1, mem, 3); // input transform, batched GEMMs, output transform
        // forward convolutions do not split K: a small-batch conv with a deep K runs its whole main loop
        return new TacticFeatures(eff, tc, config.tileM, config.tileN, config.tileK, align, mem, 1, 1);
    }
}
