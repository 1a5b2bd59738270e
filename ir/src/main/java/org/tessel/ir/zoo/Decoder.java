package org.tessel.ir.zoo;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;
import org.tessel.ir.ops.PagedAttentionOp;

/**
 * Decoder-only language models in the two shapes most checkpoints take, written out op by op in
 * ONNX's own ops the way transformers' ONNX exports are, with a KV cache as graph inputs and
 * outputs:
 *
 * <ul>
 *   <li>GPT-2 (Radford et al. 2019; names as Hugging Face's GPT2LMHeadModel): token and learned
 *       position embeddings, pre-LayerNorm blocks of causal self-attention (one fused c_attn
 *       projection split into Q, K, V) and a tanh-GELU MLP, a final LayerNorm and an LM head tied to
 *       the token embedding or untied.</li>
 *   <li>Llama (Touvron et al. 2023; names as LlamaForCausalLM): RMSNorm composed as
 *       x / sqrt(mean(x^2) + eps) * w, rotary position embeddings on Q and K composed of
 *       Cos/Sin of position x inv_freq and Split/Neg/Concat/Mul/Add, grouped-query attention
 *       (each K/V head serves heads / kv_heads query heads, repeated by Unsqueeze/Expand/Reshape as
 *       transformers' repeat_kv), a SwiGLU MLP and an untied LM head.</li>
 * </ul>
 *
 * <p>One graph form covers prefill and decode: {@code newTokens} tokens per sequence on top of
 * {@code pastLength} cached ones. Inputs: {@code input_ids} i64 [batch, new], {@code attention_mask}
 * i64 [batch, past + new] (1 = attend; padding rows and slots are 0), {@code position_ids} i64
 * [batch, new], and when past > 0, {@code past_key_values.N.key} / {@code .value} f32
 * [batch, kv_heads, past, head_dim] per layer. Outputs: {@code logits} f32 [batch, new, vocab] and
 * {@code present.N.key} / {@code .value} [batch, kv_heads, past + new, head_dim]. Prefill is past 0
 * (no cache inputs); decode is new 1. Key j is visible to new token i when the mask holds 1 at j and
 * j <= past + i (causal).
 *
 * <p>Weights are deferred ({@link NetworkBuilder#deferredNormal}): drawn on first use from the seed
 * and their names, so every form of a model has the same weights and the 1.1 B-parameter graph
 * builds in milliseconds; or, given {@link DecoderWeights}, read from them by the same names.
 */
final class Decoder {
    private Decoder() {}

    /** The additive term that hides a key: its exp is exactly 0 in f32, whatever the score. */
    static final float MASKED = -1e9f;
    private static final float INIT_STD = 0.02f;

    static Graph build(String name, DecoderConfig c, DecoderShape s, long seed, DecoderWeights weights) {
        return build(name, c, s, seed, weights, KvCacheFormat.NATIVE);
    }

    /**
     * As {@link #build(String, DecoderConfig, DecoderShape, long, DecoderWeights)}, for a cache of format {@code kv}:
     * with FP8, each layer's new keys and values (after RoPE) are rounded through the cache's storage
     * (QuantizeLinear to f8e4m3 at the layer's scale, DequantizeLinear) before attention and the present outputs, so
     * the step attends to exactly what the cache will hold, its own tokens included.
     */
    static Graph build(String name, DecoderConfig c, DecoderShape s, long seed, DecoderWeights weights, KvCacheFormat kv) {
        kv.checkLayers(c.layers(), name);
        int past = s.pastLength(), n = s.newTokens(), batch = s.batch(), total = past + n;
        if (total > c.maxPositions())
            throw new IllegalArgumentException(name + " takes at most " + c.maxPositions() + " positions, asked for " + past + " cached + " + n + " new = " + total);
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), seed);
        if (weights != null) b.deferredFrom(weights::get);
        Value ids = b.input("input_ids", DType.I64, batch, n);
        Value mask = b.input("attention_mask", DType.I64, batch, total);
        Value positions = b.input("position_ids", DType.I64, batch, n);
        List<Value[]> pasts = new ArrayList<>();
        if (past > 0)
            for (int l = 0; l < c.layers(); l++)
                pasts.add(new Value[] {
                        b.input("past_key_values." + l + ".key", DType.F32, batch, c.kvHeads(), past, c.headDim()),
                        b.input("past_key_values." + l + ".value", DType.F32, batch, c.kvHeads(), past, c.headDim())});
        b.scope(c.family() == DecoderConfig.Family.LLAMA ? "model." : "transformer.");
        Value attnMask = attentionMask(b, mask, past, n);
        b.scope("");
        List<Value> presents = body(b, c, ids, positions, l -> new Contiguous(past > 0 ? pasts.get(l) : null, attnMask, kv, l), null);
        for (int i = 0; i < presents.size(); i++) {
            b.graph().renameValue(presents.get(i), "present." + i / 2 + (i % 2 == 0 ? ".key" : ".value"));
            b.output(presents.get(i));
        }
        return b.build();
    }

    /**
     * The paged step graph: the same weights and ops as {@link #build} up to attention, which is one
     * {@code tessel.PagedAttention} per layer over that layer's K and V pools. Inputs: {@code input_ids} and
     * {@code position_ids} i64 [batch, new], {@code block_tables} i64 [batch, max_blocks], {@code slots} i64
     * [batch, new] (-1 for padding tokens), {@code context_lens} i64 [batch] (tokens after the step), and per layer
     * {@code kv_pool.N.key} / {@code .value} f32 [blocks, kv_heads, block_size, head_dim]. Outputs: {@code logits}
     * [batch, new, vocab] and the updated pools {@code present_pool.N.key} / {@code .value}. Q, K and V stay
     * [batch, new, heads, head_dim] (rotary embedding applied in that layout), the layout the paged kernels read.
     *
     * <p>A {@linkplain PagedDecoderShape#packed() packed} shape packs the sequences' new tokens into one: {@code input_ids},
     * {@code position_ids} and {@code slots} are [1, tokens], {@code block_tables} [batch, max_blocks] and
     * {@code context_lens} [batch] as above, and two more inputs, {@code query_starts} i64 [batch + 1] (sequence r's new
     * tokens are tokens query_starts[r] to query_starts[r + 1] - 1; those past query_starts[batch] are padding, slot -1)
     * and {@code last_tokens} i64 [batch] (the token whose logits sequence r takes: its last); {@code logits} is
     * [1, batch, vocab], the hidden states gathered at those tokens before the final norm and the LM head.
     */
    static Graph buildPaged(String name, DecoderConfig c, PagedDecoderShape s, long seed) {
        return buildPaged(name, c, s, seed, null, KvCacheFormat.NATIVE);
    }

    /**
     * As {@link #buildPaged(String, DecoderConfig, PagedDecoderShape, long)}, its weights read from {@code weights} (null:
     * drawn from the seed; the names are the contiguous graph's, so a checkpoint serves both); an FP8 format types the
     * pools f8e4m3 and gives each layer's attention its scales.
     */
    static Graph buildPaged(String name, DecoderConfig c, PagedDecoderShape s, long seed, DecoderWeights weights, KvCacheFormat kv) {
        kv.checkLayers(c.layers(), name);
        DType poolType = kv.quantized() ? kv.dtype() : DType.F32;
        if (!s.packed() && s.newTokens() > c.maxPositions())
            throw new IllegalArgumentException(name + " takes at most " + c.maxPositions() + " positions, asked for " + s.newTokens() + " new tokens");
        int batch = s.batch(), n = s.newTokens(), rows = s.packed() ? 1 : batch;
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), seed);
        if (weights != null) b.deferredFrom(weights::get);
        Value ids = b.input("input_ids", DType.I64, rows, n);
        Value positions = b.input("position_ids", DType.I64, rows, n);
        Value tables = b.input("block_tables", DType.I64, batch, s.maxBlocks());
        Value slots = b.input("slots", DType.I64, rows, n);
        Value lens = b.input("context_lens", DType.I64, batch);
        Value starts = s.packed() ? b.input("query_starts", DType.I64, batch + 1) : null;
        Value last = s.packed() ? b.input("last_tokens", DType.I64, batch) : null;
        List<Value[]> pools = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++)
            pools.add(new Value[] {
                    b.input("kv_pool." + l + ".key", poolType, s.numBlocks(), c.kvHeads(), s.blockSize(), c.headDim()),
                    b.input("kv_pool." + l + ".value", poolType, s.numBlocks(), c.kvHeads(), s.blockSize(), c.headDim())});
        List<Value> presents = body(b, c, ids, positions, l -> new Paged(pools.get(l), tables, slots, lens, starts, kv, l), last);
        for (int i = 0; i < presents.size(); i++) {
            b.graph().renameValue(presents.get(i), "present_pool." + i / 2 + (i % 2 == 0 ? ".key" : ".value"));
            b.output(presents.get(i));
        }
        return b.build();
    }

    /** Where a layer's attention keeps its keys and values: contiguous past/present tensors under an additive mask, or paged pools. */
    private sealed interface KvForm permits Contiguous, Paged {}

    /** {@code cache}: the layer's past key and value, or null for a prefill; {@code mask}: the additive mask [batch, 1, new, past + new]. */
    private record Contiguous(Value[] cache, Value mask, KvCacheFormat kv, int layer) implements KvForm {}

    /** {@code starts}: the packed form's query_starts (null: rows padded). */
    private record Paged(Value[] pools, Value tables, Value slots, Value lens, Value starts, KvCacheFormat kv, int layer) implements KvForm {}

    /**
     * Embedding, the blocks and the LM head; adds {@code logits} as the first output and returns each layer's
     * key and value outputs (presents or updated pools) in layer order. {@code lastTokens} (null: every token's logits):
     * the tokens [n] of the sequence whose logits are computed, gathered before the final norm.
     */
    private static List<Value> body(NetworkBuilder b, DecoderConfig c, Value ids, Value positions, java.util.function.IntFunction<KvForm> kv, Value lastTokens) {
        boolean llama = c.family() == DecoderConfig.Family.LLAMA;
        String root = llama ? "model." : "transformer.";
        boolean paged = kv.apply(0) instanceof Paged;
        b.scope(root);
        Value embed = b.deferredNormal(llama ? "embed_tokens.weight" : "wte.weight", INIT_STD, c.vocab(), c.hidden());
        Value x = b.name(llama ? "embed_tokens" : "wte").gather(embed, ids, 0);
        Rope rope = null;
        if (llama) rope = rope(b, c, positions, paged ? 2 : 1);
        else x = b.name("add_position").add(x, b.name("wpe").gather(b.deferredNormal("wpe.weight", 0.01f, c.maxPositions(), c.hidden()), positions, 0));

        List<Value> presents = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            b.scope(root + (llama ? "layers." : "h.") + l + ".");
            KvForm form = kv.apply(l);
            if (llama) {
                Value h = rmsNorm(b, x, "input_layernorm", c.eps());
                x = b.name("attn_residual").add(x, attention(b, c, h, form, rope, presents, "self_attn."));
                h = rmsNorm(b, x, "post_attention_layernorm", c.eps());
                Value gate = proj(b, h, "mlp.gate_proj", c.ffn(), false);
                Value silu = b.name("mlp.act_fn").mul(gate, b.name("mlp.act_fn.sigmoid").sigmoid(gate));
                Value up = proj(b, h, "mlp.up_proj", c.ffn(), false);
                Value down = proj(b, b.name("mlp.gate_up").mul(silu, up), "mlp.down_proj", c.hidden(), false);
                x = b.name("mlp_residual").add(x, down);
            } else {
                Value h = layerNorm(b, x, "ln_1", c.eps());
                x = b.name("attn_residual").add(x, attention(b, c, h, form, null, presents, "attn."));
                h = layerNorm(b, x, "ln_2", c.eps());
                Value f = proj(b, h, "mlp.c_fc", c.ffn(), true);
                f = b.name("mlp.act").op("Gelu", NetworkBuilder.attrs("approximate", "tanh"), f);
                x = b.name("mlp_residual").add(x, proj(b, f, "mlp.c_proj", c.hidden(), true));
            }
        }
        b.scope(root);
        if (lastTokens != null) x = b.name("last_tokens").gather(x, lastTokens, 1);
        x = llama ? rmsNorm(b, x, "norm", c.eps()) : layerNorm(b, x, "ln_f", c.eps());
        b.scope("");
        Value logits;
        if (c.tiedHead()) logits = b.name("lm_head").matmul(x, b.name("lm_head.tied").transpose(embed, 1, 0));
        else logits = b.name("lm_head").matmul(x, b.deferredNormal("lm_head.weight", (float) (1 / Math.sqrt(c.hidden())), c.hidden(), c.vocab()));
        b.graph().renameValue(logits, "logits");
        b.output(logits);
        return presents;
    }

    /**
     * The additive mask [batch, 1, new, past + new]: a key is visible to new token i when the
     * attention mask holds 1 at it and it is not after past + i (an integer causal table, so no
     * float constant poses as a weight); hidden keys get {@link #MASKED}, visible ones 0.
     */
    private static Value attentionMask(NetworkBuilder b, Value mask, int past, int n) {
        int total = past + n;
        long[] causal = new long[n * total];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < total; j++) causal[i * total + j] = j <= past + i ? 1 : 0;
        Value causalTable = b.constant("causal_mask", Tensor.ofLongs(DType.I64, Shape.of(1, 1, n, total), causal));
        Value visible = b.name("attention_mask.causal").mul(b.name("attention_mask.unsqueeze").unsqueeze(mask, 1, 2), causalTable);
        Value hidden = b.name("attention_mask.invert").sub(b.scalar("attention_mask.one", DType.F32, 1), b.name("attention_mask.cast").cast(visible, DType.F32));
        return b.name("attention_mask.scale").mul(hidden, b.scalar("attention_mask.masked_value", DType.F32, MASKED));
    }

    /** cos and sin of each new token's rotary angles, [batch, 1, new, head_dim] (or [batch, new, 1, head_dim] for the paged form's layout), broadcast over heads. */
    private record Rope(Value cos, Value sin, int headDim) {}

    /**
     * As transformers' LlamaRotaryEmbedding exports: angles = position * inv_freq (inv_freq[i] =
     * theta^(-2i/head_dim), a 32-float buffer for a 64-wide head), repeated for both halves, then
     * Cos and Sin.
     */
    private static Rope rope(NetworkBuilder b, DecoderConfig c, Value positions, int headAxis) {
        int hd = c.headDim(), half = hd / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) inv[i] = (float) (1 / Math.pow(c.ropeTheta(), 2.0 * i / hd));
        Value invFreq = b.constant("rotary_emb.inv_freq", Tensor.ofFloats(Shape.of(half), inv));
        Value p = b.name("rotary_emb.positions").unsqueeze(b.name("rotary_emb.cast").cast(positions, DType.F32), 2);
        Value freqs = b.name("rotary_emb.freqs").mul(p, invFreq);
        Value emb = b.name("rotary_emb.emb").concat(-1, freqs, freqs);
        Value cos = b.name("rotary_emb.cos.unsqueeze").unsqueeze(b.name("rotary_emb.cos").op("Cos", NetworkBuilder.attrs(), emb), headAxis);
        Value sin = b.name("rotary_emb.sin.unsqueeze").unsqueeze(b.name("rotary_emb.sin").op("Sin", NetworkBuilder.attrs(), emb), headAxis);
        return new Rope(cos, sin, hd);
    }

    /** x * cos + rotate_half(x) * sin, rotate_half(x) = concat(-x2, x1) over the head dimension's halves. */
    private static Value applyRope(NetworkBuilder b, Value x, Rope r, String name) {
        List<Value> halves = b.name(name + ".rotate_half.split").split(x, -1, r.headDim() / 2, r.headDim() / 2);
        Value rotated = b.name(name + ".rotate_half").concat(-1, b.name(name + ".rotate_half.neg").op("Neg", NetworkBuilder.attrs(), halves.get(1)), halves.get(0));
        return b.name(name + ".rope").add(b.name(name + ".rope.cos").mul(x, r.cos()), b.name(name + ".rope.sin").mul(rotated, r.sin()));
    }

    /**
     * Causal self-attention of h [batch, new, hidden] with the layer's cache: adds this layer's key and value
     * outputs to {@code presents} (contiguous: cache then new, [batch, kv_heads, past + new, head_dim]; paged: the
     * updated pools) and returns the output projection.
     */
    private static Value attention(NetworkBuilder b, DecoderConfig c, Value h, KvForm form, Rope rope, List<Value> presents, String p) {
        int batch = h.type().shape().dim(0), n = h.type().shape().dim(1), hd = c.headDim(), heads = c.heads(), kvh = c.kvHeads();
        boolean llama = c.family() == DecoderConfig.Family.LLAMA;
        Value q, k, v;
        if (llama) {
            q = proj(b, h, p + "q_proj", heads * hd, false);
            k = proj(b, h, p + "k_proj", kvh * hd, false);
            v = proj(b, h, p + "v_proj", kvh * hd, false);
        } else {
            List<Value> qkv = b.name(p + "c_attn.split").split(proj(b, h, p + "c_attn", 3 * c.hidden(), true), -1, c.hidden(), c.hidden(), c.hidden());
            q = qkv.get(0);
            k = qkv.get(1);
            v = qkv.get(2);
        }
        Value ctx;
        if (form instanceof Paged paged) {
            q = b.name(p + "q.reshape").reshape(q, batch, n, heads, hd);
            k = b.name(p + "k.reshape").reshape(k, batch, n, kvh, hd);
            v = b.name(p + "v.reshape").reshape(v, batch, n, kvh, hd);
            if (rope != null) {
                q = applyRope(b, q, rope, p + "q");
                k = applyRope(b, k, rope, p + "k");
            }
            var attrs = paged.kv().quantized()
                    ? NetworkBuilder.attrs("k_scale", paged.kv().keyScale(paged.layer()), "v_scale", paged.kv().valueScale(paged.layer())) : null;
            var node = paged.starts() == null
                    ? b.node(PagedAttentionOp.NAME, p + "paged_attention", attrs, 3, q, k, v, paged.pools()[0], paged.pools()[1], paged.tables(), paged.slots(), paged.lens())
                    : b.node(PagedAttentionOp.NAME, p + "paged_attention", attrs, 3, q, k, v, paged.pools()[0], paged.pools()[1], paged.tables(), paged.slots(), paged.lens(),
                            paged.starts());
            presents.add(node.output(1));
            presents.add(node.output(2));
            ctx = b.name(p + "merge_heads.reshape").reshape(node.output(0), batch, n, heads * hd);
        } else {
            Contiguous cont = (Contiguous) form;
            q = b.name(p + "q.transpose").transpose(b.name(p + "q.reshape").reshape(q, batch, n, heads, hd), 0, 2, 1, 3);
            k = b.name(p + "k.transpose").transpose(b.name(p + "k.reshape").reshape(k, batch, n, kvh, hd), 0, 2, 1, 3);
            v = b.name(p + "v.transpose").transpose(b.name(p + "v.reshape").reshape(v, batch, n, kvh, hd), 0, 2, 1, 3);
            if (rope != null) {
                q = applyRope(b, q, rope, p + "q");
                k = applyRope(b, k, rope, p + "k");
            }
            if (cont.kv().quantized()) {
                k = kvRound(b, k, cont.kv().keyScale(cont.layer()), p + "k");
                v = kvRound(b, v, cont.kv().valueScale(cont.layer()), p + "v");
            }
            if (cont.cache() != null) {
                k = b.name(p + "k.cat_past").concat(2, cont.cache()[0], k);
                v = b.name(p + "v.cat_past").concat(2, cont.cache()[1], v);
            }
            presents.add(k);
            presents.add(v);
            int group = heads / kvh;
            if (group > 1) {
                k = repeatKv(b, k, group, p + "k");
                v = repeatKv(b, v, group, p + "v");
            }
            Value scores = b.name(p + "scores").matmul(q, b.name(p + "k.transpose_scores").transpose(k, 0, 1, 3, 2));
            scores = b.name(p + "scale").div(scores, b.scalar(p + "scale_divisor", DType.F32, Math.sqrt(hd)));
            scores = b.name(p + "mask_add").add(scores, cont.mask());
            Value probs = b.name(p + "softmax").softmax(scores, -1);
            ctx = b.name(p + "context").matmul(probs, v);
            ctx = b.name(p + "merge_heads.reshape").reshape(b.name(p + "merge_heads").transpose(ctx, 0, 2, 1, 3), batch, n, heads * hd);
        }
        return llama ? proj(b, ctx, p + "o_proj", c.hidden(), false) : proj(b, ctx, p + "c_proj", c.hidden(), true);
    }

    /** x rounded through an f8e4m3 cache at {@code scale}: DequantizeLinear(QuantizeLinear(x, scale) as f8e4m3, scale). */
    private static Value kvRound(NetworkBuilder b, Value x, float scale, String name) {
        Value s = b.scalar(name + ".kv_scale", DType.F32, scale);
        Value q = b.name(name + ".kv_quantize").op("QuantizeLinear", NetworkBuilder.attrs("output_dtype", (long) DType.F8E4M3.onnxCode()), x, s);
        return b.name(name + ".kv_dequantize").op("DequantizeLinear", NetworkBuilder.attrs(), q, s);
    }

    /** [batch, kv_heads, t, hd] to [batch, kv_heads * group, t, hd], each K/V head repeated for its group of query heads. */
    private static Value repeatKv(NetworkBuilder b, Value x, int group, String name) {
        var s = x.type().shape();
        int batch = s.dim(0), kvh = s.dim(1), t = s.dim(2), hd = s.dim(3);
        Value e = b.name(name + ".repeat_kv").expand(b.name(name + ".repeat_kv.unsqueeze").unsqueeze(x, 2), batch, kvh, group, t, hd);
        return b.name(name + ".repeat_kv.reshape").reshape(e, batch, kvh * group, t, hd);
    }

    /** A projection on the last axis by a deferred [in, out] weight (std 1/sqrt(in)), with a bias when asked. */
    private static Value proj(NetworkBuilder b, Value x, String name, int out, boolean bias) {
        int in = x.type().shape().dim(-1);
        Value y = b.name(name).matmul(x, b.deferredNormal(name + ".weight", (float) (1 / Math.sqrt(in)), in, out));
        return bias ? b.name(name + ".add").add(y, b.deferredNormal(name + ".bias", INIT_STD, out)) : y;
    }

    private static Value layerNorm(NetworkBuilder b, Value x, String name, float eps) {
        int d = x.type().shape().dim(-1);
        return b.name(name).layerNorm(x, b.deferredUniform(name + ".weight", 0.9f, 1.1f, d), b.deferredNormal(name + ".bias", INIT_STD, d), -1, eps);
    }

    /** RMSNorm: x / sqrt(mean(x^2 over the last axis) + eps) * weight. */
    static Value rmsNorm(NetworkBuilder b, Value x, String name, float eps) {
        int d = x.type().shape().dim(-1);
        Value sq = b.name(name + ".square").mul(x, x);
        Value mean = b.name(name + ".mean").op("ReduceMean", NetworkBuilder.attrs("keepdims", 1), sq, b.longs(name + ".axes", -1));
        Value rms = b.name(name + ".sqrt").op("Sqrt", NetworkBuilder.attrs(), b.name(name + ".add_eps").add(mean, b.scalar(name + ".eps", DType.F32, eps)));
        Value normed = b.name(name + ".divide").div(x, rms);
        return b.name(name).mul(normed, b.deferredUniform(name + ".weight", 0.9f, 1.1f, d));
    }
}
