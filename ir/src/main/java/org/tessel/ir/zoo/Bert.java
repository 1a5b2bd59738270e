package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * The BERT encoder (Devlin et al. 2018; names as in Hugging Face's BertModel): embeddings are the
 * sum of word, position and token-type tables looked up with Gather, then LayerNorm; each of the
 * post-LN encoder layers is self-attention, residual Add and LayerNorm, then a GELU feed-forward
 * network, residual Add and LayerNorm; the pooler is a tanh dense layer on the first ([CLS])
 * token.
 *
 * <p>Inputs: {@code input_ids} and {@code attention_mask}, both i64 [batch, seq] (mask 1 = attend,
 * 0 = padding). The mask becomes the additive term (1 - mask) * -10000 broadcast over heads and
 * queries, as BERT exporters write it. Token types are all 0 (single-segment input) and positions
 * are 0..seq-1; both are constants, so their lookups fold away. Outputs: {@code last_hidden_state}
 * [batch, seq, hidden] and {@code pooler_output} [batch, hidden].
 */
final class Bert {
    private Bert() {}

    record Config(int vocab, int maxPositions, int typeVocab, int hidden, int layers, int heads, int ffn, int sequenceLength, float eps) {
        Config {
            if (hidden % heads != 0) throw new IllegalArgumentException("hidden size " + hidden + " is not divisible by " + heads + " heads");
        }
    }

    static final Config BERT_BASE = new Config(30522, 512, 2, 768, 12, 12, 3072, 128, 1e-12f);
    static final Config BERT_TINY = new Config(1000, 64, 2, 128, 2, 2, 512, 16, 1e-12f);

    /** Standard deviation of the embedding tables and pooler-free initializers (BERT's own 0.02). */
    private static final float EMBEDDING_STD = 0.02f;

    static Graph build(String name, Config c, ZooOptions o) {
        int seq = o.sequenceLengthOr(c.sequenceLength());
        int layers = o.layersOr(c.layers());
        if (seq > c.maxPositions())
            throw new IllegalArgumentException(name + " takes at most " + c.maxPositions() + " tokens (its position table), asked for " + seq);
        int batch = o.batch(), d = c.hidden();
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value ids = b.input("input_ids", DType.I64, batch, seq);
        Value mask = b.input("attention_mask", DType.I64, batch, seq);

        b.scope("embeddings.");
        Value words = b.name("word_embeddings").gather(b.normalWeights("word_embeddings.weight", EMBEDDING_STD, c.vocab(), d), ids, 0);
        long[] positions = new long[seq];
        for (int i = 0; i < seq; i++) positions[i] = i;
        Value posIds = b.constant("position_ids", Tensor.ofLongs(DType.I64, Shape.of(1, seq), positions));
        Value pos = b.name("position_embeddings").gather(b.normalWeights("position_embeddings.weight", EMBEDDING_STD, c.maxPositions(), d), posIds, 0);
        Value typeIds = b.constant("token_type_ids", Tensor.zeros(DType.I64, Shape.of(1, seq)));
        Value types = b.name("token_type_embeddings").gather(b.normalWeights("token_type_embeddings.weight", EMBEDDING_STD, c.typeVocab(), d), typeIds, 0);
        Value x = b.name("add_position").add(words, pos);
        x = b.name("add_token_type").add(x, types);
        x = Transformer.layerNorm(b, x, "LayerNorm", c.eps());

        b.scope("extended_attention_mask.");
        Value m = b.name("unsqueeze").unsqueeze(mask, 1, 2);
        m = b.name("cast").cast(m, DType.F32);
        m = b.name("invert").sub(b.scalar("one", DType.F32, 1), m);
        Value additiveMask = b.name("scale").mul(m, b.scalar("masked_value", DType.F32, -10000));

        for (int i = 0; i < layers; i++) {
            b.scope("encoder.layer." + i + ".");
            Value a = Transformer.selfAttention(b, x, c.heads(), additiveMask, new Transformer.AttentionNames(
                    "attention.self", "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"));
            x = Transformer.layerNorm(b, b.name("attention.output.residual").add(a, x), "attention.output.LayerNorm", c.eps());
            Value f = Transformer.mlp(b, x, "intermediate.dense", "intermediate.gelu", "output.dense", c.ffn());
            x = Transformer.layerNorm(b, b.name("output.residual").add(f, x), "output.LayerNorm", c.eps());
        }

        b.scope("pooler.");
        Value cls = b.name("first_token").gather(x, b.scalar("first_token_index", DType.I64, 0), 1);
        Value pooled = b.name("dense").gemm(cls, b.randomWeights("dense.weight", d, d), b.normalWeights("dense.bias", EMBEDDING_STD, d), true);
        pooled = b.name("activation").tanh(pooled);
        b.scope("");
        b.graph().renameValue(x, "last_hidden_state");
        b.graph().renameValue(pooled, "pooler_output");
        return b.output(x, pooled).build();
    }
}
