package org.tessel.tactics.attention;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.StreamingTactic;

/**
 * {@code tessel.attention.paged}: {@code tessel.PagedAttention} on the GPU, the way TensorRT-LLM's GPT attention
 * plugin runs a paged KV cache. One step writes the new tokens' keys and values into the pools in place
 * (tessel.paged_kv_append), then a decode step (one new token per sequence) runs the flash-decoding paged kernel
 * (tessel.paged_attention) and a prefill chunk the causal paged kernel over the cached blocks and the new tokens
 * (tessel.paged_prefill). The pools are f16 or bf16 (the KV cache's storage), or f8e4m3 (an FP8 cache, dequantized as
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
            "tessel.attention.paged", "Tessel paged attention: new K/V appended to the pools in place, then flash-decoding (one token) or causal paged attention (a chunk) over the block tables",
            OP, n -> n.body() == null && n.opName().equals(OP), EnumSet.of(Precision.FP16, Precision.BF16), Set.of(),
            (n, p, l) -> whyNot(n), 0.2, 0.6, 2, false));

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
