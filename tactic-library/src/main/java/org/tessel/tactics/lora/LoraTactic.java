package org.tessel.tactics.lora;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpException;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.ops.LoraOps;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;

/**
 * {@code tessel.lora.bgmv}: {@code tessel.LoraDelta} as Tessel's BGMV kernel (the runtime's LoraBgmv, Punica's
 * shrink and expand in one launch): one block per (batch row, token) reads its row's adapter from the stacked
 * constants, a warp per rank index sums x·Aᵀ into shared memory, then a thread per output column walks the ranks
 * over B transposed at build time. FP32, constant adapters, stacked rank at most 64 (shared memory).
 *
 * <p>Priced as a CUDA-core kernel at a low share of the FP32 peak: short dot products with a shuffle reduction
 * and a barrier per block, memory-bound in practice (each row reads its adapter's A and B).
 */
public final class LoraTactic extends BaseTactic {
    public static final LoraTactic BGMV = new LoraTactic();

    /** The runtime's LoraBgmv.MAX_RANK. */
    static final int MAX_RANK = 64;
    /** Share of the FP32 peak: an estimate from the instruction mix (two short reductions per output), not a measurement. */
    static final double EFFICIENCY = 0.1;

    private LoraTactic() {
        super("tessel.lora.bgmv", "Tessel multi-adapter LoRA (BGMV): a block per (row, token) gathering its adapter, warp-per-rank shrink into shared memory, then a coalesced expand",
                Backend.GPU, EnumSet.of(Precision.FP32), Set.of());
    }

    @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals(LoraOps.DELTA); }

    @Override protected String appliesToText() { return LoraOps.DELTA; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        if (n.input(0).type().dtype() != DType.F32) return "computes f32 (x is " + n.input(0).type().dtype().text() + ")";
        for (int i = 1; i <= 3; i++) if (!n.input(i).isConstant()) return "needs the stacked adapters and scales as constants (" + n.op().inputNames().get(i) + " is computed)";
        LoraOps.Dims d;
        try {
            d = LoraOps.check(n.input(0).type(), n.input(1).type(), n.input(2).type(), n.input(3).type(), n.input(4).type());
        } catch (OpException e) {
            return e.getMessage();
        }
        return d.rank() > MAX_RANK ? "keeps a row's x·Aᵀ in shared memory: stacked rank at most " + MAX_RANK + " (got " + d.rank() + ")" : null;
    }

    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) { return TacticFeatures.streaming(EFFICIENCY, 0.5, 1); }
}
