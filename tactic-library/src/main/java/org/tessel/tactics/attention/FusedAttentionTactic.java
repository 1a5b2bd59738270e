package org.tessel.tactics.attention;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;

/**
 * Tactic that runs a fused attention group (Q K^T, scale, optional mask, softmax, times V) as one
 * kernel, as the GPU engine's attention layer does: Q, K and V are read as the projections'
 * [B, S, H*D] rows (no head transposes), one CTA streams a block of queries against the keys with
 * an online softmax, so the score matrix never reaches memory. Two kernels, by what they compute on:
 * {@link #MMA} on f16 tensor cores, and {@link #BSHD} on CUDA cores, which the engine runs only
 * where the tensor-core kernel cannot (it prefers MMA at every shape measured, MmaAttention.preferred).
 */
public final class FusedAttentionTactic extends BaseTactic {
    /** Largest head size either kernel holds (MmaAttention.MAX_HEAD_DIM, FusedAttention.MAX_HEAD_DIM). */
    public static final int MAX_HEAD_DIM = 128;
    /** The tensor-core kernel's grid puts batch x heads on y (CUDA's limit). */
    public static final long MAX_BATCH_HEADS = 65535;

    /** Tensor cores, f16: head size a multiple of 16, rows of a multiple of 8 elements. */
    public static final FusedAttentionTactic MMA = new FusedAttentionTactic(true, "tessel.attention.mma",
            "Tessel fused attention on f16 tensor cores (mma.sync), online softmax, Q/K/V as [B,S,H*D] rows", EnumSet.of(Precision.FP16));
    /** CUDA cores, any engine precision: where MMA cannot run. */
    public static final FusedAttentionTactic BSHD = new FusedAttentionTactic(false, "tessel.attention.bshd",
            "Tessel fused attention on CUDA cores, online softmax, Q/K/V as [B,S,H*D] rows (where the tensor-core kernel cannot run)",
            EnumSet.of(Precision.FP32, Precision.TF32, Precision.FP16));

    private static final Set<String> MATMUL = Set.of("MatMul");
    private final boolean tensorCores;

    private FusedAttentionTactic(boolean tensorCores, String id, String summary, Set<Precision> precisions) {
        super(id, summary, Backend.GPU, precisions, Set.of());
        this.tensorCores = tensorCores;
    }

    @Override public boolean appliesTo(Node n) { return "attention".equals(NodeFacts.fusedKind(n)) && NodeFacts.anchor(n, MATMUL) != null; }

    @Override protected String appliesToText() { return "fused attention"; }

    /** Why the tensor-core kernel cannot run this head size, batch and head count at f16; null when it can. */
    static String mmaWhyNot(long headDim, long batchHeads) {
        if (headDim % 16 != 0) return "head dimension " + headDim + " is not a multiple of 16 (mma fragments)";
        if (batchHeads > MAX_BATCH_HEADS) return "batch x heads " + batchHeads + " exceeds the grid's " + MAX_BATCH_HEADS;
        return null;
    }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        // the engine's attention layers build from the recognized pattern only (a rotary embedding between the head split
        // and the scores, as an exported Llama's, is not it: its ops run unfused)
        try {
            AttentionBody.parse(n);
        } catch (AttentionBody.NotRecognized e) {
            return "the body is not the attention pattern the kernels read: " + e.why();
        }
        Node qk = NodeFacts.anchor(n, MATMUL);
        TensorType q = qk.input(0).type(), kt = qk.input(1).type();
        if (q.rank() < 2 || kt.rank() < 2) return "needs batched matrices for Q and K^T (got " + q + " and " + kt + ")";
        long d = q.shape().dim(-1);
        long batchHeads = 1;
        for (int i = 0; i < q.rank() - 2; i++) batchHeads *= q.shape().dim(i);
        if (d > MAX_HEAD_DIM) return "head dimension " + d + " exceeds " + MAX_HEAD_DIM;
        String mma = mmaWhyNot(d, batchHeads);
        if (tensorCores) return mma;
        // the builder takes the tensor-core kernel wherever it runs, so this one would never be what runs
        if (p == Precision.FP16 && mma == null) return "at FP16 the engine runs tessel.attention.mma for this shape";
        return null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    /**
     * The tensor-core kernel priced by its structure rather than as a GEMM: a block of 4 warps takes 64 queries of one
     * (batch, head) and walks the keys 64 at a time, at most {@link #MMA_BLOCKS_PER_SM} blocks sharing an SM. A key tile
     * takes a block about {@link #MMA_TILE_ALONE_US} when it has its SM to itself and {@link #MMA_TILE_SHARED_US} when
     * four share one (more work per SM, each block slower), linearly between: the H100 measurements of 2026-12-05 (graph
     * replays of the kernel: B1 H12 S128 D64 5.8 us, B32 S128 19.9 us, B32 S384 106 us, B1 H3 S197 9.2 us, launch
     * included; the tile times here leave out the launch and least kernel latency, which are priced apart). Time = waves x
     * key tiles x tile time, scaled by the device's FP16 rate per SM against the H100's; the
     * memory side (Q, K, V, O once) and the launch as for any tactic.
     */
    @Override public org.tessel.cost.Cost cost(org.tessel.cost.CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        org.tessel.cost.Cost base = super.cost(model, n, p, l, cudaGraphs);
        if (!tensorCores) return base;
        Node qk = NodeFacts.anchor(n, MATMUL);
        TensorType q = qk.input(0).type(), kt = qk.input(1).type();
        long batchHeads = 1;
        for (int i = 0; i < q.rank() - 2; i++) batchHeads *= q.shape().dim(i);
        long sq = q.shape().dim(q.rank() - 2), sk = kt.shape().dim(kt.rank() - 1), headDim = q.shape().dim(q.rank() - 1);
        org.tessel.cost.DeviceSpec d = model.device();
        long blocks = ceilDiv(sq, 64) * batchHeads, tiles = ceilDiv(sk, 64);
        long perSm = Math.min(MMA_BLOCKS_PER_SM, ceilDiv(blocks, d.sms()));
        long waves = ceilDiv(blocks, (long) d.sms() * perSm);
        double tileUs = MMA_TILE_ALONE_US + (MMA_TILE_SHARED_US - MMA_TILE_ALONE_US) * (perSm - 1) / (MMA_BLOCKS_PER_SM - 1);
        double h100PerSm = H100_FP16_TFLOPS / H100_SMS, perSmRate = d.peak(Precision.FP16) / d.sms();
        double computeUs = waves * tiles * tileUs * (headDim / 64.0) * h100PerSm / perSmRate;
        return new org.tessel.cost.Cost(computeUs, base.memoryUs(), base.launchUs(), base.workspaceBytes());
    }

    /** Blocks of the tensor-core kernel one SM holds (its registers: 128 threads x 128). */
    static final int MMA_BLOCKS_PER_SM = 4;
    /** A 64-key tile's time for a block alone on its SM, and for each of four sharing one (H100, head size 64). */
    static final double MMA_TILE_ALONE_US = 1.4, MMA_TILE_SHARED_US = 3.6;
    /** The H100 SXM the tile times were measured on: its FP16 dense tensor-core rate and SMs. */
    static final double H100_FP16_TFLOPS = 989.4, H100_SMS = 132;

    private static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        // 64 queries x 64 keys per step (the tensor-core kernel's compute time is priced by its structure in cost()).
        // On CUDA cores the products run at a share of the FP32 peak (no tensor-core tiles to fill).
        return tensorCores ? new TacticFeatures(0.5, true, 64, 64, 64, 8, 0.8, 1) : new TacticFeatures(0.4, false, 64, 64, 64, 1, 0.8, 1);
    }
}
