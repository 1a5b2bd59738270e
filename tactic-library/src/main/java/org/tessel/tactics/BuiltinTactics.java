package org.tessel.tactics;

import java.util.ArrayList;
import java.util.List;
import org.tessel.tactics.attention.FusedAttentionTactic;
import org.tessel.tactics.attention.PagedAttentionTactic;
import org.tessel.tactics.attention.RopeTactic;
import org.tessel.tactics.conv.ConvTactics;
import org.tessel.tactics.cpu.CpuReferenceTactic;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.data.EfficientNmsTactic;
import org.tessel.tactics.data.IndexTactics;
import org.tessel.tactics.eltwise.EltwiseTactics;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.norm.NormTactics;
import org.tessel.tactics.pool.PoolTactics;
import org.tessel.tactics.lora.LoraTactic;
import org.tessel.tactics.recurrent.RecurrentTactic;

/** The built-in tactics, registered through the same {@link TacticProvider} SPI as plugins. */
public final class BuiltinTactics implements TacticProvider {
    public static final String PROVIDER_NAME = "tessel-builtin";

    @Override public String providerName() { return PROVIDER_NAME; }

    @Override public List<Tactic> tactics() {
        List<Tactic> all = new ArrayList<>();
        all.addAll(ConvTactics.all());
        all.addAll(GemmTactics.all());
        all.add(FusedAttentionTactic.MMA);
        all.add(FusedAttentionTactic.BSHD);
        all.add(PagedAttentionTactic.PAGED);
        all.add(RopeTactic.ROPE);
        all.addAll(EltwiseTactics.all());
        all.addAll(NormTactics.all());
        all.addAll(PoolTactics.all());
        all.addAll(DataMovementTactics.all());
        all.addAll(IndexTactics.all());
        all.add(EfficientNmsTactic.EFFICIENT);
        all.add(RecurrentTactic.BLOCK_PER_SEQUENCE);
        all.add(LoraTactic.BGMV);
        all.add(CpuReferenceTactic.REFERENCE);
        return List.copyOf(all);
    }
}
