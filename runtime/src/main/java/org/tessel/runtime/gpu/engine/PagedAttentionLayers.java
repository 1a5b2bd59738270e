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
import org.tessel.runtime.gpu.kernels.Rope;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.attention.PagedAttentionTactic;

/**
 * {@code tessel.attention.paged}: {@code tessel.PagedAttention} as the paged kernels. A decode step (one new token)
 * is one flash-decoding launch that also writes the new keys and values into the pools
 * ({@link PagedAttentionKernel#appendAndDecode}, padding slots -1 skipped; planned for the block tables' reach, its
 * split workspace the context's, whose reduction is the second launch); a chunk appends the new tokens' keys and
 * values ({@link PagedAttentionKernel#append}), then runs the causal prefill kernel ({@link PagedAttentionKernel#prefill}) in the
 * form the plan's variant names ({@code tessel.attention.paged/mma}: tensor cores; {@code /tiled}: CUDA cores), tiled
 * where it names none; the layer reports the form. A variant on a decode step, or a form that cannot run the node, is
 * refused naming it ({@link PagedAttentionTactic#formWhyNot}).
 *
 * <p>The pools are written in place: each pool output is the buffer the caller bound to it
 * ({@link GpuEngine#createExecutionContext(java.util.Map)}), which for a paged KV cache is the pool input's own
 * buffer, so nothing is copied per step; a pool output bound to another buffer gets the input copied in first, and an
 * unbound one aliases its input. The pools must be stored in the layer's storage type (f16 or bf16: the engine's I/O
 * precision), since a converted copy would take the writes; or, for an FP8 cache, f8e4m3 as the graph types them
 * (E4M3 codes at the node's {@code k_scale} and {@code v_scale}: the append kernel quantizes, the attention kernels
 * dequantize in registers).
 *
 * <p>A fused {@code rope_attention} group (the attention and the tessel.RotaryEmbeddings of its q and new keys, either or
 * both) is the same decode launch with the rotations in it ({@link PagedAttentionKernel#appendAndDecode} with
 * {@link PagedAttentionKernel.Rotary}): q and the new keys are read as the ropes' inputs, cos and sin where they
 * broadcast; the group's prefill form is refused (the catalogue's support rule refuses it too).
 */
public final class PagedAttentionLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.ATTENTION_PAGED); }

    @Override public boolean computes(Node n) { return PagedAttentionTactic.PAGED.appliesTo(n); }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.ATTENTION_PAGED : null; }

    @Override public String variantWhyNot(Node n, String tactic, GpuEngine.Precision p) {
        List<String> parts = GpuTactics.parts(tactic);
        if (parts.size() == 1 || !computes(n)) return null;
        if (parts.size() > 2) return "variant '" + String.join("/", parts.subList(1, parts.size())) + "' of " + GpuTactics.ATTENTION_PAGED + " names no prefill form (its forms: "
                + String.join(", ", PagedAttentionTactic.PREFILL_FORMS) + ")";
        return PagedAttentionTactic.formWhyNot(n, parts.get(1), p == GpuEngine.Precision.FP16 ? org.tessel.cost.Precision.FP16
                : p == GpuEngine.Precision.BF16 ? org.tessel.cost.Precision.BF16 : org.tessel.cost.Precision.FP32);
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        Operands.requireOneOf(n, tactic, GpuTactics.ATTENTION_PAGED);
        String variantWhy = variantWhyNot(n, tactic, c.precision());
        if (variantWhy != null) throw GpuEngineException.unsupported(n, variantWhy);
        List<String> parts = GpuTactics.parts(tactic);
        // the chunk's kernel form: the plan's, else tiled (the form that runs every pool type and head size)
        PagedAttentionKernel.PrefillForm form = parts.size() > 1 ? PagedAttentionKernel.PrefillForm.ofVariant(parts.get(1)) : PagedAttentionKernel.PrefillForm.TILED;
        DType t = c.storage();
        if (t != DType.F16 && t != DType.BF16)
            throw GpuEngineException.unsupported(n, GpuTactics.ATTENTION_PAGED + " computes at FP16 or BF16 (the paged KV cache holds f16 or bf16), the plan runs it at " + c.precision());
        Node att = PagedAttentionTactic.attention(n);
        if (att == null || !computes(n)) throw GpuEngineException.unsupported(n, GpuTactics.ATTENTION_PAGED + " computes tessel.PagedAttention, alone or fused rope_attention");
        String why = PagedAttentionTactic.whyNot(n);
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.ATTENTION_PAGED + " " + why);
        List<TensorType> types = new ArrayList<>();
        for (Value v : att.inputs()) types.add(v.type());
        PagedAttentionOp.Dims d = PagedAttentionOp.check(types);
        Node qRope = PagedAttentionTactic.rope(n, 0), kRope = PagedAttentionTactic.rope(n, 1);
        Value kIn = outer(n, att.input(3)), vIn = outer(n, att.input(4));
        DType kvType = kIn.type().dtype() == DType.F8E4M3 ? DType.F8E4M3 : t;
        for (Value pool : List.of(kIn, vIn))
            if (c.storageOf(pool) != kvType)
                throw GpuEngineException.unsupported(n, "pool %" + pool.name() + " is stored as " + c.storageOf(pool).text() + ", and " + GpuTactics.ATTENTION_PAGED
                        + " writes it in place at " + kvType.text() + " (build the engine with its I/O precision at " + c.precision() + ")");
        float[] scales = PagedAttentionOp.scales(kIn.type().dtype(), att.attrs());
        float ks = scales[0], vs = scales[1];
        PagedAttentionKernel.Config cfg = new PagedAttentionKernel.Config(t, kvType, d.heads(), d.kvHeads(), d.headDim(), d.blockSize(), d.numBlocks());
        DeviceBuffer q = c.activation(outer(n, qRope == null ? att.input(0) : qRope.input(0)));
        DeviceBuffer k = c.activation(outer(n, kRope == null ? att.input(1) : kRope.input(0)));
        DeviceBuffer v = c.activation(outer(n, att.input(2)));
        PagedAttentionKernel.Rotary qr = rotary(c, n, qRope), kr = rotary(c, n, kRope);
        DeviceBuffer kPool = c.activation(kIn), vPool = c.activation(vIn);
        DeviceBuffer tables = Operands.operand(c, outer(n, att.input(5))), slots = Operands.operand(c, outer(n, att.input(6))), lens = Operands.operand(c, outer(n, att.input(7)));
        Value outV = result(n, att.output(0));
        DeviceBuffer kOut = poolOutput(c, result(n, att.output(1)), kPool), vOut = poolOutput(c, result(n, att.output(2)), vPool);
        boolean copyK = kOut.address() != kPool.address(), copyV = vOut.address() != vPool.address();
        if (outV == null) throw GpuEngineException.unsupported(n, GpuTactics.ATTENTION_PAGED + ": nothing reads the attention output of " + att.name());
        DeviceBuffer out = c.activation(outV);
        int batch = d.batch(), newTokens = d.newTokens(), maxBlocks = d.maxBlocks();
        long row = (long) d.kvHeads() * d.headDim();
        var kc = c.kernels();
        if (newTokens == 1 && !d.packed()) {
            PagedAttentionKernel.Plan plan = PagedAttentionKernel.plan(cfg, batch, maxBlocks * d.blockSize(), kc.context().device().smCount());
            if (plan.split()) c.needWorkspace(plan.workspaceBytes());
            var workspace = c.workspace();
            return Operands.layer(c, n, GpuTactics.ATTENTION_PAGED, outV, s -> {
                if (copyK) kOut.copyFromAsync(kPool, s);
                if (copyV) vOut.copyFromAsync(vPool, s);
                PagedAttentionKernel.appendAndDecode(kc, cfg, plan, q, qr, k, row, kr, v, row, slots, kOut, vOut, ks, vs, tables, lens, maxBlocks, out,
                        plan.split() ? workspace.get() : null, s);
            });
        }
        String kernelWhy = PagedAttentionKernel.prefillWhyNot(form, cfg);
        if (kernelWhy != null) throw GpuEngineException.unsupported(n, kernelWhy);
        DeviceBuffer starts = d.packed() ? Operands.operand(c, outer(n, att.input(8))) : null;
        int tokens = Math.toIntExact(d.tokens());
        return Operands.layer(c, n, GpuTactics.variant(GpuTactics.ATTENTION_PAGED, form.variant), outV, s -> {
            if (copyK) kOut.copyFromAsync(kPool, s);
            if (copyV) vOut.copyFromAsync(vPool, s);
            PagedAttentionKernel.append(kc, cfg, tokens, k, row, v, row, slots, kOut, vOut, ks, vs, s);
            if (starts != null)
                PagedAttentionKernel.prefillPacked(kc, cfg, form, batch, newTokens, starts, q, kOut, vOut, ks, vs, tables, slots, lens, maxBlocks, out, s);
            else PagedAttentionKernel.prefill(kc, cfg, form, batch, newTokens, q, kOut, vOut, ks, vs, tables, slots, lens, maxBlocks, out, s);
        });
    }

    /** The outer value a body value of a fused node binds to (the value itself for an unfused node). */
    private static Value outer(Node n, Value v) { return n.body() == null ? v : NodeFacts.outer(n, v); }

    /** The fused node's output a body result leaves as (the value itself for an unfused node; null: nothing outside reads it). */
    private static Value result(Node n, Value v) {
        if (n.body() == null) return v;
        int i = n.body().outputs().indexOf(v);
        return i < 0 ? null : n.output(i);
    }

    /** A fused rope's cos and sin as the kernel reads them (null: no rope); the support rule has checked they broadcast onto x. */
    private static PagedAttentionKernel.Rotary rotary(LayerContext c, Node n, Node rope) {
        if (rope == null) return null;
        Value cos = outer(n, rope.input(1)), sin = outer(n, rope.input(2));
        long[] strides = Rope.rowStrides(rope.input(0).type().shape(), cos.type().shape()); // x [B, 1, heads, D]: batch, token, head
        return new PagedAttentionKernel.Rotary(Operands.operand(c, cos), Operands.operand(c, sin), strides[0], strides[2]);
    }

    /** The buffer of a pool output: the one the caller bound to it, else its input's (written in place). */
    private static DeviceBuffer poolOutput(LayerContext c, Value out, DeviceBuffer in) {
        if (out == null) return in; // a fused group whose updated pool nothing outside reads: written in place all the same
        if (c.isBound(out)) return c.activation(out);
        c.alias(out, in);
        return in;
    }
}
