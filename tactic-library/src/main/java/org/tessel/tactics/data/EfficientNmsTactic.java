package org.tessel.tactics.data;

import java.util.EnumSet;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.EfficientNmsOp;
import org.tessel.tactics.BaseTactic;

/**
 * Tactic {@code tessel.nms.efficient}: TensorRT's EfficientNMS_TRT in one kernel (nms.cu), a block per image. The block
 * selects the image's top min(4096, candidates) scores exactly (a count pass, then, when there are more candidates, a
 * four-pass radix select and an ordered gather), sorts them in shared memory, and runs the greedy walk a tile of 32 live
 * candidates at a time: one warp resolves the tile in order, then every thread tests its own later candidates against
 * the tile's kept ones. Boxes and scores of any layout label are read in logical order (channels-first).
 *
 * <p>Priced for what it is: the work ({@link org.tessel.cost.Work}) counts the sort and the walk's IoU tests; one block
 * per image uses few of the device's SMs, so the arithmetic runs at a small share of peak; the scores are read twice (six
 * times when the candidates are more than 4096), which the memory efficiency divides by; and the walk is a chain of
 * tiles, each a warp's serial resolve and two block barriers whatever the work, added as {@value #WALK_CYCLES_PER_TILE}
 * cycles a tile for ceil(min(M, N x C) / 32) tiles (per wave of images over the SMs; a tile whose candidates suppress
 * each other keeps fewer than 32, so this is the fewest). These are estimates from the kernel's structure, not yet
 * measured on a GPU. The host reference does the same work on the CPU and adds the PCIe round trip of every score.
 */
public final class EfficientNmsTactic extends BaseTactic {
    public static final EfficientNmsTactic EFFICIENT = new EfficientNmsTactic();

    /** Share of peak the arithmetic reaches: a block per image, its walk a warp at a time. */
    static final double COMPUTE_EFFICIENCY = 0.01;
    /** Share of peak bandwidth one pass over the scores reaches with a block per image. */
    static final double PASS_MEMORY_EFFICIENCY = 0.2;
    /**
     * Cycles of one tile of the walk: a lane's scan of the live bits, 32 boxes loaded, up to 31 IoU tests a lane and a
     * 32-step shuffle chain to resolve the tile, two block barriers over 32 warps, then up to 4 x 32 IoU tests a thread.
     */
    static final double WALK_CYCLES_PER_TILE = 6000;

    private EfficientNmsTactic() {
        super("tessel.nms.efficient", "Tessel EfficientNMS_TRT: a block per image selects its top 4096 candidates exactly (radix select, bitonic sort "
                        + "in shared memory) and walks them greedily, f32 IoU without fused multiply-adds (the reference's floats)",
                org.tessel.tactics.Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), EnumSet.of(Layout.NCHW, Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals(EfficientNmsOp.QUALIFIED_NAME); }

    @Override protected String appliesToText() { return EfficientNmsOp.QUALIFIED_NAME; }

    /** The most scores (boxes x classes) an image may have (NmsKernels.MAX_SCORES_PER_IMAGE: the kernel's int indices). */
    public static final long MAX_SCORES_PER_IMAGE = 1L << 30;

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        for (Value v : n.inputs())
            if (v != null && v.type().rank() >= 3 && v.type().layout() == Layout.NHWC) return "reads channels-first tensors only (input %" + v.name() + " is nhwc)";
        org.tessel.api.Shape s = n.input(1).type().shape();
        long scores = (long) s.dim(1) * s.dim(2);
        return scores > MAX_SCORES_PER_IMAGE ? "takes up to " + MAX_SCORES_PER_IMAGE + " scores an image (got " + scores + ")" : null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    /** How often the kernel reads the scores: a count and a gather, plus four radix passes when more than 4096 could be candidates. */
    static int scorePasses(Node n) {
        org.tessel.api.Shape s = n.input(1).type().shape();
        return (long) s.dim(1) * s.dim(2) > EfficientNmsOp.MAX_CANDIDATES ? 6 : 2;
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return TacticFeatures.streaming(COMPUTE_EFFICIENCY, PASS_MEMORY_EFFICIENCY / scorePasses(n), 1);
    }

    /** The walk's chain of tiles on {@code model}'s device, in us: ceil(min(M, N x C) / 32) tiles per image, images a block each. */
    static double walkUs(CostModel model, Node n) {
        org.tessel.api.Shape s = n.input(1).type().shape();
        double tiles = Math.ceil(Math.min(n.output(2).type().shape().dim(1), (double) s.dim(1) * s.dim(2)) / 32);
        double waves = Math.ceil(s.dim(0) / (double) Math.max(1, model.device().sms()));
        return waves * tiles * WALK_CYCLES_PER_TILE / (model.device().boostClockGHz() * 1e3);
    }

    /** The model's estimate of the work (scores, sort, IoU tests), the walk's chain of tiles after it. */
    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        Cost c = model.estimate(id(), Work.of(n, p), features(n, p, l), p, cudaGraphs);
        return new Cost(c.computeUs() + walkUs(model, n), c.memoryUs(), c.launchUs(), c.workspaceBytes());
    }
}
