package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * Tessel's own 2-D NHWC convolution on tensor cores ({@code conv_mma.cu}): an implicit GEMM over the output pixels (no
 * im2col matrix, one launch), 64 x 64 output tiles of 4 warps on mma.sync, K in slices of 64 bytes (32 f16 or 64 int8
 * values; input channels a multiple of a slice, so a slice is one tap's 16-byte runs of channels), the epilogue fused, and
 * K split over the grid where the tiles alone leave SMs idle: each split's block writes partial sums to the stream's
 * workspace, and the tile's last block adds them in split order and runs the epilogue (a counter per tile; no second
 * launch). FP16: f32 sums, bias, a residual and ReLU. INT8: exact int32 sums (m16n8k32), then the INT8 epilogue (s_x *
 * s_w[c], the f32 bias, the int8 residual at its scale, ReLU or Clip, requantized into int8 codes) in the same kernel, so
 * the output codes equal the CPU emulation's and no int32 tensor goes through memory.
 *
 * <p>Why: at small batch a convolution has few output pixels (ResNet-50's layer3 3x3 at batch 1: 196, layer4: 49), and
 * neither cuDNN's fused call (it does not split K) nor im2col + cuBLASLt (a second launch and the matrix's traffic) fills an
 * H100: in the FP16 engine at batch 1 (2026-12-07) layer3's 3x3 convolutions took 8.0 us and layer4's 9.2, where their
 * weights read in 0.4 and 1.4 us.
 *
 * <p>Takes: Conv and fused conv_bias_act whose body is bias, a residual Add and Relu; one group, constant filters and
 * bias, dilations and strides any, symmetric or not pads; FP16 (input channels a multiple of 32, output channels of 8)
 * or INT8 (64 and 16; Clip too), NHWC. The split is a variant ({@code tessel.conv.mma/splitS}); without one the runtime takes {@link #splits}.
 */
public final class ConvMmaTactic extends BaseTactic {
    /** The catalogue id. */
    public static final String ID = "tessel.conv.mma";
    /** The output tile (pixels x channels) of a block, and its K slice in bytes and in f16 values. */
    public static final int TILE_M = 64, TILE_N = 64, SLICE_BYTES = 64, SLICE = SLICE_BYTES / 2;
    /**
     * The wide tile's side: 128 x 128 outputs of 4 warps, each 64 x 64 (int8 only): where there are many pixels, a warp
     * does twice the mma work per shared-memory byte of the 64 x 64 tile's warps of 32 x 32.
     */
    public static final int WIDE_TILE = 128;
    /** The variant naming the wide tile, unsplit. */
    public static final String WIDE_VARIANT = "wide";
    /** The most K splits the kernel takes, and the fewest K slices a split gets. */
    public static final int MAX_SPLITS = 32, MIN_SLICES_PER_SPLIT = 4;
    /** The variant part naming a split count: {@code split} followed by the count. */
    public static final String SPLIT_VARIANT = "split";
    /**
     * mma.sync fed by ldmatrix from a three-stage cp.async pipeline (estimates, to be fitted from ConvMmaGpuTest's TOPS).
     * Shared memory gives 128 bytes a clock an SM, about one mma's worth of fragments for a 64 x 64 warp (128 bytes an
     * mma), half of one for a 32 x 32 warp (256 bytes an mma): the small tile cannot pass half the tensor-core peak.
     */
    static final double TENSOR_EFFICIENCY = 0.45, WIDE_TENSOR_EFFICIENCY = 0.55, MEMORY_EFFICIENCY = 0.7;

    private static final Set<String> CONV = Set.of("Conv");
    private static final Set<String> BODY_OPS = Set.of("Conv", "Add", "Relu"), INT8_BODY_OPS = Set.of("Conv", "Add", "Relu", "Clip");

    /** A K slice's values for elements of {@code bytes} bytes: 32 f16, 64 int8. */
    public static int slice(int bytes) { return SLICE_BYTES / bytes; }

    /** Output channels a multiple of this for elements of {@code bytes} bytes: 8 (f16, pairs of columns a thread) or 16 (int8, 16-byte runs of codes). */
    static int outputMultiple(int bytes) { return bytes == 1 ? 16 : 8; }

    /**
     * Why the kernel for elements of {@code bytes} bytes cannot take {@code cin} input and {@code cout} output channels
     * (null: it can): input channels a multiple of a K slice ({@link #slice}), output channels of {@link #outputMultiple}.
     * The catalogue, the kernel's launcher and the INT8 builder all ask this.
     */
    public static String channelsWhyNot(long cin, long cout, int bytes) {
        int slice = slice(bytes), outs = outputMultiple(bytes);
        if (cin % slice == 0 && cout % outs == 0) return null;
        return "input channels that are a multiple of " + slice + " and output channels of " + outs + " (got " + cin + " -> " + cout + ")";
    }

    public ConvMmaTactic() {
        super(ID, "Tessel's 2-D NHWC convolution on tensor cores: implicit GEMM, 64x64 tiles of mma.sync (128x128 for many pixels at INT8), K split over the grid for few output pixels (partial sums added by each tile's last block), the epilogue fused (FP16: bias, residual, ReLU; INT8: scales, bias, residual, ReLU or Clip, requantized); one launch",
                Backend.GPU, EnumSet.of(Precision.FP16, Precision.INT8), EnumSet.of(Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return NodeFacts.isConvOrConvBiasAct(n); }

    @Override protected String appliesToText() { return "Conv and fused conv_bias_act"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node conv = NodeFacts.anchor(n, CONV);
        ConvGeometry g = ConvGeometry.of(conv);
        String planar = NodeFacts.planarWhyNot(conv, g);
        if (planar != null) return planar;
        if (g.group() != 1) return "one group only (got group " + g.group() + ")";
        String channels = channelsWhyNot(g.cin(), g.cout(), p.storage().bytes());
        if (channels != null) return "at " + p.text() + " needs " + channels;
        String operands = NodeFacts.nonConstantConvOperands(n, conv);
        if (operands != null) return operands;
        Set<String> body = p == Precision.INT8 ? INT8_BODY_OPS : BODY_OPS;
        if (n.body() != null)
            for (Node b : n.body().nodes())
                if (!body.contains(b.opName()))
                    return "its epilogue takes bias, a residual and " + (p == Precision.INT8 ? "Relu or Clip" : "Relu") + " at " + p.text() + " (the body holds " + b.opName() + ")";
        return null;
    }

    /**
     * Whether the kernel takes the wide tile for {@code m} pixels and {@code cout} channels of {@code bytes}-byte elements
     * on {@code sms} SMs: int8, at least 128 channels, and at least two waves of wide tiles (then no split is needed).
     */
    public static boolean wide(long m, int cout, int bytes, int sms) {
        return bytes == 1 && cout >= WIDE_TILE && ((m + WIDE_TILE - 1) / WIDE_TILE) * ((cout + WIDE_TILE - 1) / WIDE_TILE) >= 2L * sms;
    }

    /** {@link #splits(long, int, int, int, int)} of f16 values. */
    public static int splits(long m, int cout, int k, int sms) { return splits(m, cout, k, 2, sms); }

    /**
     * How many ranges the kernel splits K = {@code k} into for {@code m} output pixels and {@code cout} channels of
     * {@code bytes}-byte elements on {@code sms} SMs: enough blocks for about one per SM, each split at least
     * {@value #MIN_SLICES_PER_SPLIT} slices of {@value #SLICE_BYTES} bytes, at most {@value #MAX_SPLITS}; 1 when the
     * tiles alone fill the SMs.
     */
    public static int splits(long m, int cout, int k, int bytes, int sms) {
        long tiles = ((m + TILE_M - 1) / TILE_M) * ((cout + TILE_N - 1) / TILE_N);
        int slices = k / slice(bytes);
        long want = (sms + tiles - 1) / tiles;
        return (int) Math.max(1, Math.min(Math.min(want, MAX_SPLITS), slices / MIN_SLICES_PER_SPLIT));
    }

    /** Bytes of the stream's workspace the kernel's partial sums take: f32 (or int32) a split, pixel and channel where K is split. */
    public static long partialBytes(long m, int cout, int splits) { return splits > 1 ? 4L * splits * m * cout : 0; }

    /** The SMs the workspace is sized for (an H100's 132; an H200 has as many). */
    static final int WORKSPACE_SMS = 132;

    @Override public long workspaceBytes(Node n, Precision p) {
        long[] g = Work.gemmDims(NodeFacts.anchor(n, CONV));
        if (wide(g[0], (int) g[1], p.storage().bytes(), WORKSPACE_SMS)) return 0;
        return partialBytes(g[0], (int) g[1], splits(g[0], (int) g[1], (int) g[2], p.storage().bytes(), WORKSPACE_SMS));
    }

    /**
     * Priced by the model as a GEMM over the pixels with 64 x 64 tiles that may split K (or, where {@link #wide}, 128 x 128
     * tiles unsplit at {@value #WIDE_TENSOR_EFFICIENCY} of the peak; both efficiencies are estimates of mma.sync fed
     * from shared memory, not yet fitted to GPU timings) (the model picks its split as the
     * kernel does, to fill the SMs), the input read once per tap that overlaps (the model's bytes of the node), no second launch.
     */
    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        long[] g = Work.gemmDims(NodeFacts.anchor(n, CONV));
        if (wide(g[0], (int) g[1], p.storage().bytes(), WORKSPACE_SMS))
            return new TacticFeatures(WIDE_TENSOR_EFFICIENCY, true, WIDE_TILE, WIDE_TILE, slice(p.storage().bytes()), outputMultiple(p.storage().bytes()), MEMORY_EFFICIENCY, 1, 1, false);
        return new TacticFeatures(TENSOR_EFFICIENCY, true, TILE_M, TILE_N, slice(p.storage().bytes()), outputMultiple(p.storage().bytes()), MEMORY_EFFICIENCY, 1, MAX_SPLITS, false);
    }

    /**
     * The model's GEMM price plus the split's reduction as the kernel runs it: each tile's last block reads every split's
     * partial tile through one SM, at about {@value #SM_L2_BYTES_PER_US} bytes a microsecond (the tiles' last blocks run
     * side by side, so one tile's reads are the time), after the writes the model's split-K already prices.
     */
    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        Cost c = model.estimate(id(), Work.of(n, p), features(n, p, l), p, cudaGraphs);
        long[] g = Work.gemmDims(NodeFacts.anchor(n, CONV));
        return new Cost(c.computeUs(), c.memoryUs(), c.launchUs() + reduceUs(g[0], (int) g[1], (int) g[2], p.storage().bytes(), model.device().sms()),
                Math.max(c.workspaceBytes(), workspaceBytes(n, p)));
    }

    /** One SM's reads from L2 (an H100 SM moves about 64 bytes a clock at 1.7 GHz; the 16-byte loads keep less in flight). */
    static final double SM_L2_BYTES_PER_US = 80_000;

    /** Microseconds a tile's last block takes to read the partial tiles of the kernel's split on {@code sms} SMs (0 unsplit). */
    static double reduceUs(long m, int cout, int k, int bytes, int sms) {
        int s = wide(m, cout, bytes, sms) ? 1 : splits(m, cout, k, bytes, sms);
        return s == 1 ? 0 : s * (double) Math.min(m, TILE_M) * Math.min(cout, TILE_N) * 4 / SM_L2_BYTES_PER_US;
    }
}
