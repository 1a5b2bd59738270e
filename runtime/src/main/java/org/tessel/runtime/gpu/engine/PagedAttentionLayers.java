package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.TensorType;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PagedAttentionOp;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.PagedAttentionKernel;

/**
 * {@code tessel.attention.paged}: {@code tessel.PagedAttention} as the paged kernels. A decode step (one new token)
 * is one flash-decoding launch that also writes the new keys and values into the pools
 * ({@link PagedAttentionKernel#appendAndDecode}, padding slots -1 skipped; planned for the block tables' reach, its
 * split workspace the context's, whose reduction is the second launch); a chunk appends the new tokens' keys and
 * values ({@link PagedAttentionKernel#append}), then runs the causal prefill kernel ({@link PagedAttentionKernel#prefill}).
 *
 * <p>The pools are written in place: each pool output is the buffer the caller bound to it
 * ({@link GpuEngine#createExecutionContext(java.util.Map)}), which for a paged KV cache is the pool input's own
 * buffer, so nothing is copied per step; a pool output bound to another buffer gets the input copied in first, and an
 * unbound one aliases its input. The pools must be stored in the layer's storage type (f16 or bf16: the engine's I/O
 * precision), since a converted copy would take the writes; or, for an FP8 cache, f8e4m3 as the graph types them
 * (E4M3 codes at the node's {@code k_scale} and {@code v_scale}: the append kernel quantizes, the attention kernels
 * dequantize in registers).
 */
public final class PagedAttentionLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.ATTENTION_PAGED); }

    @Override public boolean computes(Node n) { return n.opName().equals(PagedAttentionOp.NAME) && n.body() == null; }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.ATTENTION_PAGED : null; }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.ATTENTION_PAGED);
        DType t = c.storage();
        if (t != DType.F16 && t != DType.BF16)
            throw GpuEngineException.unsupported(n, GpuTactics.ATTENTION_PAGED + " computes at FP16 or BF16 (the paged KV cache holds f16 or bf16), the plan runs it at " + c.precision());
        List<TensorType> types = new ArrayList<>();
        for (Value v : n.inputs()) types.add(v.type());
        PagedAttentionOp.Dims d = PagedAttentionOp.check(types);
        Value kIn = n.input(3), vIn = n.input(4);
        DType kvType = kIn.type().dtype() == DType.F8E4M3 ? DType.F8E4M3 : t;
        for (Value pool : List.of(kIn, vIn))
            if (c.storageOf(pool) != kvType)
                throw GpuEngineException.unsupported(n, "pool %" + pool.name() + " is stored as " + c.storageOf(pool).text() + ", and " + GpuTactics.ATTENTION_PAGED
                        + " writes it in place at " + kvType.text() + " (build the engine with its I/O precision at " + c.precision() + ")");
        float[] scales = PagedAttentionOp.scales(kIn.type().dtype(), n.attrs());
        float ks = scales[0], vs = scales[1];
        PagedAttentionKernel.Config cfg = new PagedAttentionKernel.Config(t, kvType, d.heads(), d.kvHeads(), d.headDim(), d.blockSize(), d.numBlocks());
        DeviceBuffer q = c.activation(n.input(0)), k = c.activation(n.input(1)), v = c.activation(n.input(2));
        DeviceBuffer kPool = c.activation(kIn), vPool = c.activation(vIn);
        DeviceBuffer tables = Operands.operand(c, n.input(5)), slots = Operands.operand(c, n.input(6)), lens = Operands.operand(c, n.input(7));
        DeviceBuffer kOut = poolOutput(c, n.output(1), kPool), vOut = poolOutput(c, n.output(2), vPool);
        boolean copyK = kOut.address() != kPool.address(), copyV = vOut.address() != vPool.address();
        DeviceBuffer out = c.activation(n.output(0));
        int batch = d.batch(), newTokens = d.newTokens(), maxBlocks = d.maxBlocks();
        long row = (long) d.kvHeads() * d.headDim();
        var kc = c.kernels();
        if (newTokens == 1) {
            PagedAttentionKernel.Plan plan = PagedAttentionKernel.plan(cfg, batch, maxBlocks * d.blockSize(), kc.context().device().smCount());
            if (plan.split()) c.needWorkspace(plan.workspaceBytes());
            var workspace = c.workspace();
            return Operands.layer(c, n, GpuTactics.ATTENTION_PAGED, n.output(0), s -> {
                if (copyK) kOut.copyFromAsync(kPool, s);
                if (copyV) vOut.copyFromAsync(vPool, s);
                PagedAttentionKernel.appendAndDecode(kc, cfg, plan, q, k, row, v, row, slots, kOut, vOut, ks, vs, tables, lens, maxBlocks, out,
                        plan.split() ? workspace.get() : null, s);
            });
        }
        return Operands.layer(c, n, GpuTactics.ATTENTION_PAGED, n.output(0), s -> {
            if (copyK) kOut.copyFromAsync(kPool, s);
            if (copyV) vOut.copyFromAsync(vPool, s);
            PagedAttentionKernel.append(kc, cfg, batch * newTokens, k, row, v, row, slots, kOut, vOut, ks, vs, s);
            PagedAttentionKernel.prefill(kc, cfg, batch, newTokens, q, kOut, vOut, ks, vs, tables, slots, lens, maxBlocks, out, s);
        });
    }

    /** The buffer of a pool output: the one the caller bound to it, else its input's (written in place). */
    private static DeviceBuffer poolOutput(LayerContext c, Value out, DeviceBuffer in) {
        if (c.isBound(out)) return c.activation(out);
        c.alias(out, in);
        return in;
    }
}
