package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.FusedAttention;
import org.tessel.runtime.gpu.kernels.MmaAttention;
import org.tessel.runtime.gpu.kernels.TransformerKernels;
import org.tessel.tactics.attention.AttentionBody;

/**
 * {@code tessel.Fused} kind=attention ({@link AttentionBody} recognises the body): {@code tessel.attention.mma}
 * (tensor cores, f16) where {@link MmaAttention} can run, or {@code tessel.attention.bshd} (CUDA cores); both read
 * Q, K, V as the projections' [B, S, H*D] rows (no transposes) and write [B, S, H*D]. Without a plan the rule
 * takes mma wherever it runs (measured on an H200, runtime/GPU-ENGINE.md, it was faster at every shape tried: 1.8x at
 * B1 H3 S197 up to 12.8x at B32 H12 S384); a plan or a forced choice can name bshd.
 */
public final class AttentionLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.ATTENTION_MMA, GpuTactics.ATTENTION_BSHD); }

    @Override public boolean computes(Node n) { return n.opName().equals("tessel.Fused") && n.attrs().getString("kind", "").equals("attention"); }

    /** Everything a layer of either tactic needs, bound to this context's buffers. */
    private record Bound(AttentionBody a, Value out, DeviceBuffer qb, DeviceBuffer kb, DeviceBuffer vb, DeviceBuffer mb, DeviceBuffer ob, TransformerKernels.AttentionStrides ld) {}

    private static Bound bind(LayerContext e, Node n) {
        AttentionBody a;
        try {
            a = AttentionBody.parse(n);
        } catch (AttentionBody.NotRecognized refused) {
            throw new GpuEngineException("cannot build a GPU engine: " + refused.getMessage(), refused);
        }
        if (a.headDim() > FusedAttention.MAX_HEAD_DIM) throw GpuEngineException.unsupported(n, "head size " + a.headDim() + " exceeds " + FusedAttention.MAX_HEAD_DIM);
        Value out = n.output();
        DeviceBuffer qb = e.activation(a.q()), kb = e.activation(a.k()), vb = e.activation(a.v()), ob = e.activation(out);
        DeviceBuffer mb = a.mask() == null ? null : Operands.operand(e, a.mask());
        long hd = (long) a.heads() * a.headDim();
        long maskRow = a.perQueryMask() ? (long) a.seqQ() * a.seqK() : a.seqK();
        long maskBatch = a.mask() == null || a.mask().type().shape().dim(0) == 1 ? 0 : maskRow;
        TransformerKernels.AttentionStrides ld = new TransformerKernels.AttentionStrides(hd, hd, hd, hd, maskBatch, a.perQueryMask() ? a.seqK() : 0);
        return new Bound(a, out, qb, kb, vb, mb, ob, ld);
    }

    private static String mmaRefusal(DType t, Bound b) {
        AttentionBody a = b.a();
        return MmaAttention.unsupportedReason(t, a.batch(), a.heads(), a.headDim(), b.ld(), b.qb(), b.kb(), b.vb(), b.mb(), b.ob());
    }

    @Override public String ruleTactic(LayerContext e, Node n) {
        if (!computes(n)) return null;
        Bound b = bind(e, n);
        return mmaRefusal(e.storage(), b) == null ? GpuTactics.ATTENTION_MMA : GpuTactics.ATTENTION_BSHD;
    }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, GpuTactics.ATTENTION_MMA, GpuTactics.ATTENTION_BSHD);
        Bound b = bind(e, n);
        AttentionBody a = b.a();
        DType t = e.storage();
        if (id.equals(GpuTactics.ATTENTION_MMA)) {
            String why = mmaRefusal(t, b);
            if (why != null) throw GpuEngineException.unsupported(n, id + " cannot run this attention: " + why);
            return Operands.layer(e, n, GpuTactics.ATTENTION_MMA, b.out(), s -> MmaAttention.run(e.kernels(), t, a.batch(), a.heads(), a.seqQ(), a.seqK(), a.headDim(), a.scale(),
                    b.qb(), b.kb(), b.vb(), b.mb(), b.ob(), b.ld(), a.nanGuard(), s));
        }
        return Operands.layer(e, n, GpuTactics.ATTENTION_BSHD, b.out(), s -> TransformerKernels.attention(e.kernels(), t, a.batch(), a.heads(), a.seqQ(), a.seqK(), a.headDim(), a.scale(),
                b.qb(), b.kb(), b.vb(), b.mb(), b.ob(), b.ld(), a.nanGuard(), s));
    }
}
