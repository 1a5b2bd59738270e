package org.tessel.tactics.attention;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;

/**
 * {@code tessel.attention.paged}: {@code tessel.PagedAttention} on the GPU, the way TensorRT-LLM's GPT attention
 * plugin runs a paged KV cache. A decode step (one new token per sequence) is the flash-decoding paged kernel
 * (tessel.paged_attention) with the append fused in: it writes the new keys and values into the pools in place and
 * attends over them in the same launch, plus its reduction kernel when the context is split ({@link #launches}). A
 * prefill chunk writes the new tokens' keys and values (tessel.paged_kv_append), then runs the causal paged kernel
 * over the cached blocks and the new tokens (tessel.paged_prefill). The pools are f16 or bf16 (the KV cache's storage), or f8e4m3 (an FP8 cache, dequantized as
 * it is read), and the tactic computes at FP16 or BF16. Decode attention is memory-bound: it streams the cached keys
 * and values once, so the cost model counts the blocks the tables reach at the pools' own element size (one byte for
 * FP8) and the new tokens' writes, not the whole pools ({@code PagedAttentionOp}'s cost hints).
 */
public final class PagedAttentionTactic {
    private PagedAttentionTactic() {}

    public static final String OP = "tessel.PagedAttention";
    /** Head sizes the kernels take (a row's 16-byte chunks split a warp evenly). */
    public static final Set<Integer> HEAD_DIMS = Set.of(16, 32, 64, 128, 256);

    public static final StreamingTactic PAGED = new StreamingTactic(new StreamingTactic.Config(
            "tessel.attention.paged", "Tessel paged attention: new K/V written to the pools in place by flash-decoding itself (one token) or appended before causal paged attention (a chunk) over the block tables",
            OP, n -> n.body() == null && n.opName().equals(OP), EnumSet.of(Precision.FP16, Precision.BF16), Set.of(),
            (n, p, l) -> whyNot(n), 0.2, 0.6, PagedAttentionTactic::launches, false));

    /** Context a decode step's block tables must reach past before the runtime's planner splits it: its smallest partition (tokens). */
    static final int SMALLEST_PARTITION = 64;

    /**
     * Kernels one run launches. A decode step (one new token a sequence): the flash-decoding kernel, which appends the
     * new keys and values itself, and its reduction when the block tables reach past {@value #SMALLEST_PARTITION}
     * tokens (the planner then splits the context over partitions unless the batch alone fills the GPU): 1 or 2. A
     * prefill chunk: the append kernel and the prefill kernel, 2.
     */
    public static int launches(Node n) {
        var q = n.input(0).type().shape();
        if (q.rank() != 4 || q.dim(1) != 1) return 2;
        long reach = (long) n.input(5).type().shape().dim(1) * n.input(3).type().shape().dim(2);
        return reach > SMALLEST_PARTITION ? 2 : 1;
    }

    /** Why the kernels cannot run this node's geometry (null: they can). */
    public static String whyNot(Node n) {
        var q = n.input(0).type().shape();
        var k = n.input(1).type().shape();
        if (q.rank() != 4 || k.rank() != 4) return "takes q [B, N, H, D] and k_new [B, N, KVH, D] (got " + q + " and " + k + ")";
        if (!HEAD_DIMS.contains(q.dim(3))) return "head size " + q.dim(3) + " is not one the paged kernels take (16, 32, 64, 128 or 256)";
        if (q.dim(2) % k.dim(2) != 0) return q.dim(2) + " query heads cannot share " + k.dim(2) + " KV heads";
        return null;
    }
}
