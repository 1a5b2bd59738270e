package org.tessel.tactics.attention;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.ops.RotaryEmbeddingOps;
import org.tessel.tactics.NodeFacts;
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
 *
 * <p>It also runs a fused {@code rope_attention} group: the attention with the {@code tessel.RotaryEmbedding}s of its q
 * and new keys (either or both), which the decode kernel applies itself: it rotates q as it loads it and the new key
 * before it stores it in the pool, reading cos and sin where they broadcast (rounded to the storage type as the rope
 * kernel's outputs are). Decode only: a prefill chunk keeps its ropes (the prefill kernel reads q and the pools as they
 * are). Priced as the attention's launches, the ropes' gone: the group's bytes are the attention's plus cos and sin.
 */
public final class PagedAttentionTactic {
    private PagedAttentionTactic() {}

    public static final String OP = "tessel.PagedAttention";
    /** Head sizes the kernels take (a row's 16-byte chunks split a warp evenly). */
    public static final Set<Integer> HEAD_DIMS = Set.of(16, 32, 64, 128, 256);

    /**
     * The prefill kernel's forms, the tactic's plan variants, priced apart by the search: {@code mma} (tensor cores: f16
     * pools, head sizes multiples of 16 up to 128) and {@code tiled} (f32 math on CUDA cores; every pool type and head
     * size). In this order where the cost model prices them alike (a short chunk, whose bytes and launches price it): the
     * tensor-core form first, as it measured faster where the arithmetic shows. A decode step has one kernel and takes
     * neither ({@link #formWhyNot}).
     */
    public static final List<String> PREFILL_FORMS = List.of("mma", "tiled");

    /**
     * The mma prefill's share of the FP16 tensor-core peak on the attention's multiply-accumulates (which the cost model
     * counts over every slot of the block tables, causal masking aside), the tiled form's being its
     * {@code computeEfficiency} of the CUDA-core peak: fitted to llama-1b's prefill of 32 x 512 tokens on an H200, 155.46 ms
     * tiled and 66.58 ms mma (the same call, the step's GEMMs the same), so the search prices a prefill chunk's attention
     * at what each form took.
     */
    public static final double MMA_PEAK_EFFICIENCY = 0.09;

    public static final StreamingTactic PAGED = new StreamingTactic(new StreamingTactic.Config(
            "tessel.attention.paged", "Tessel paged attention: new K/V written to the pools in place by flash-decoding itself (one token) or appended before causal paged attention (a chunk) over the block tables"
                    + "; the chunk's kernel form is the plan's variant, tiled (CUDA cores) or mma (tensor cores)",
            OP + " (alone, or fused rope_attention)", PagedAttentionTactic::matches, EnumSet.of(Precision.FP16, Precision.BF16), Set.of(),
            (n, p, l) -> whyNot(n), 0.2, 0.6, PagedAttentionTactic::launches, false), PREFILL_FORMS, new StreamingTactic.VariantPricing() {
                @Override public String whyNot(Node n, Precision p, String variant) { return formWhyNot(n, variant, p); }

                @Override public TacticFeatures features(Node n, Precision p, String variant, TacticFeatures own) {
                    return variant.equals("mma") ? own.withTensorCores(true).withPeakEfficiency(MMA_PEAK_EFFICIENCY) : own;
                }
            });

    /**
     * Why the prefill form {@code variant} cannot run this node at {@code p} (null: it can): a decode step (one new token a
     * sequence) runs the decode kernel, which has no forms; {@code mma} needs FP16 with f16 pools (not an FP8 cache) and
     * a head size that is a multiple of 16 up to 128.
     */
    public static String formWhyNot(Node fusedOrNot, String variant, Precision p) {
        if (!PREFILL_FORMS.contains(variant))
            return "variant '" + variant + "' of tessel.attention.paged names no prefill form (its forms: " + String.join(", ", PREFILL_FORMS) + ")";
        Node n = attention(fusedOrNot);
        var q = n.input(0).type().shape();
        if (q.rank() == 4 && q.dim(1) == 1)
            return "variant '" + variant + "' names a prefill kernel form, and " + n.name() + " is a decode step (one new token a sequence), whose kernel has one form";
        if (variant.equals("tiled")) return null;
        if (p != Precision.FP16) return "the mma prefill computes at FP16 (mma.sync on f16), the plan runs it at " + p.text();
        if (n.input(3).type().dtype() == org.tessel.api.DType.F8E4M3) return "the mma prefill reads f16 pools, not an FP8 cache (the tiled form dequantizes it)";
        int d = q.rank() == 4 ? q.dim(3) : 0;
        if (d % 16 != 0 || d > 128) return "the mma prefill takes head sizes that are multiples of 16 up to 128, not " + d;
        return null;
    }

    /** The fused kind whose group is a paged attention with the rotary embeddings of its q and new keys. */
    public static final String ROPE_ATTENTION = "rope_attention";

    static boolean matches(Node n) {
        return n.body() == null ? n.opName().equals(OP) : ROPE_ATTENTION.equals(NodeFacts.fusedKind(n)) && attention(n) != null;
    }

    /** The paged attention a node computes: the node itself, or a fused group's body node of the op (null: none). */
    public static Node attention(Node n) { return NodeFacts.anchor(n, Set.of(OP)); }

    /** The rotary embedding of a fused group that produces the attention's input {@code input} (0: q, 1: new keys), or null. */
    public static Node rope(Node n, int input) {
        Node att = attention(n);
        if (n.body() == null || att == null) return null;
        Node p = att.input(input).producer();
        return p != null && n.body().contains(p) && p.opName().equals(RotaryEmbeddingOps.HALF_ROTATION) ? p : null;
    }

    /** Context a decode step's block tables must reach past before the runtime's planner splits it: its smallest partition (tokens). */
    static final int SMALLEST_PARTITION = 64;

    /**
     * Kernels one run launches. A decode step (one new token a sequence): the flash-decoding kernel, which appends the
     * new keys and values itself, and its reduction when the block tables reach past {@value #SMALLEST_PARTITION}
     * tokens (the planner then splits the context over partitions unless the batch alone fills the GPU): 1 or 2. A
     * prefill chunk: the append kernel and the prefill kernel, 2.
     */
    public static int launches(Node fusedOrNot) {
        Node n = attention(fusedOrNot);
        var q = n.input(0).type().shape();
        if (q.rank() != 4 || q.dim(1) != 1) return 2;
        long reach = (long) n.input(5).type().shape().dim(1) * n.input(3).type().shape().dim(2);
        return reach > SMALLEST_PARTITION ? 2 : 1;
    }

    /** Why the kernels cannot run this node's geometry, or a fused group's ropes (null: they can). */
    public static String whyNot(Node fusedOrNot) {
        Node n = attention(fusedOrNot);
        var q = n.input(0).type().shape();
        var k = n.input(1).type().shape();
        if (q.rank() != 4 || k.rank() != 4) return "takes q [B, N, H, D] and k_new [B, N, KVH, D] (got " + q + " and " + k + ")";
        if (!HEAD_DIMS.contains(q.dim(3))) return "head size " + q.dim(3) + " is not one the paged kernels take (16, 32, 64, 128 or 256)";
        if (q.dim(2) % k.dim(2) != 0) return q.dim(2) + " query heads cannot share " + k.dim(2) + " KV heads";
        return fusedOrNot.body() == null ? null : ropesWhyNot(fusedOrNot, n);
    }

    /**
     * Why the decode kernel cannot apply a rope_attention group's rotary embeddings (null: it can): the group must be a
     * decode step (one new token), its body the attention and tessel.RotaryEmbeddings feeding its q or new keys
     * directly, each rotating the whole head in halves (i, i + D/2), as that op always does, with cos and sin of at most
     * x's rank broadcasting onto x (the kernel indexes them by batch and head).
     */
    static String ropesWhyNot(Node fused, Node att) {
        if (att.input(0).type().shape().dim(1) != 1)
            return "fuses rotary embeddings into decode steps only: " + att.name() + " takes " + att.input(0).type().shape().dim(1)
                    + " new tokens a sequence, a prefill chunk, whose kernel reads q and the pools as they are (its ropes run on their own)";
        Node qr = rope(fused, 0), kr = rope(fused, 1);
        for (Node b : fused.body().nodes())
            if (b != att && b != qr && b != kr)
                return "body node " + b.name() + " (" + b.opName() + ") is not a rotary embedding of " + att.name() + "'s q or new keys";
        for (Node r : new Node[] {qr, kr}) {
            if (r == null) continue;
            var x = r.input(0).type().shape();
            var cs = r.input(1).type().shape();
            if (cs.rank() > x.rank() || cs.dim(-1) != x.dim(-1))
                return "rope " + r.name() + ": cos and sin " + cs + " must have x " + x + "'s last dimension and at most its rank";
            int off = x.rank() - cs.rank();
            for (int i = 0; i < cs.rank(); i++)
                if (cs.dim(i) != 1 && cs.dim(i) != x.dim(off + i))
                    return "rope " + r.name() + ": cos and sin " + cs + " do not broadcast onto x " + x;
        }
        return null;
    }
}
