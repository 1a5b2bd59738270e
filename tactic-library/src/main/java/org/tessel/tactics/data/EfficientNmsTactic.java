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
 * four-pass radix select and an ordered gather), sorts them in shared memory, and runs the greedy walk: the next
 * unsuppressed candidate is kept and every thread tests its own candidates against it. Boxes and scores of any layout
 * label are read in logical order (channels-first).
 *
 * <p>Priced for what it is: the work ({@link org.tessel.cost.Work}) counts the sort and the walk's IoU tests; one block
 * per image uses few of the device's SMs, so the arithmetic runs at a small share of peak; the scores are read twice (six
 * times when the candidates are more than 4096), which the memory efficiency divides by; and the walk is a chain of
 * block barriers, one step per kept box whatever the work, added as {@value #WALK_CYCLES_PER_KEPT} cycles a step for
 * up to min(M, N x C) steps (per wave of images over the SMs). These are estimates from the kernel's structure, not yet
 * measured on a GPU. The host reference does the same work on the CPU and adds the PCIe round trip of every score.
 */
public final class EfficientNmsTactic extends BaseTactic {
    public static final EfficientNmsTactic EFFICIENT = new EfficientNmsTactic();

    /** Share of peak the arithmetic reaches: a block per image, a barrier per kept box. */
    static final double COMPUTE_EFFICIENCY = 0.01;
    /** Share of peak bandwidth one pass over the scores reaches with a block per image. */
    static final double PASS_MEMORY_EFFICIENCY = 0.2;
    /** Cycles of one step of the walk: a warp minimum, an atomic, two block barriers over 32 warps, four IoU tests. */
    static final double WALK_CYCLES_PER_KEPT = 1500;

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

    /** The walk's barrier chain on {@code model}'s device, in us: up to min(M, N x C) steps per image, images a block each. */
    static double walkUs(CostModel model, Node n) {
        org.tessel.api.Shape s = n.input(1).type().shape();
        double steps = Math.min(n.output(2).type().shape().dim(1), (double) s.dim(1) * s.dim(2));
        double waves = Math.ceil(s.dim(0) / (double) Math.max(1, model.device().sms()));
        return waves * steps * WALK_CYCLES_PER_KEPT / (model.device().boostClockGHz() * 1e3);
    }

    /** The model's estimate of the work (scores, sort, IoU tests), the walk's barrier chain after it. */
    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        Cost c = model.estimate(id(), Work.of(n, p), features(n, p, l), p, cudaGraphs);
        return new Cost(c.computeUs() + walkUs(model, n), c.memoryUs(), c.launchUs(), c.workspaceBytes());
    }
}
