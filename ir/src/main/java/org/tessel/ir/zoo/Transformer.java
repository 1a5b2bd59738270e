package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Transformer pieces shared by BERT and ViT, written out op by op the way exporters emit them, so
 * the passes can pattern-match attention: per-projection MatMul + Add, Reshape/Transpose into
 * heads, MatMul of queries by transposed keys, Div by sqrt(head size), optional Add of a mask,
 * Softmax, MatMul by values, Transpose/Reshape back and the output projection.
 */
final class Transformer {
    private Transformer() {}

    /** A dense layer on the last axis: MatMul by a He-normal [in, out] weight, Add of a small bias. */
    static Value linear(NetworkBuilder b, Value x, String name, int out) {
        int in = x.type().shape().dim(-1);
        Value w = b.heNormal(name + ".weight", in, in, out);
        Value bias = b.normalWeights(name + ".bias", 0.02f, out);
        Value y = b.name(name).matmul(x, w);
        return b.name(name + ".add").add(y, bias);
    }

    /** LayerNormalization over the last axis with gamma near 1 and beta near 0. */
    static Value layerNorm(NetworkBuilder b, Value x, String name, float eps) {
        int d = x.type().shape().dim(-1);
        Value gamma = b.uniformWeights(name + ".weight", 0.9f, 1.1f, d);
        Value beta = b.normalWeights(name + ".bias", 0.02f, d);
        return b.name(name).layerNorm(x, gamma, beta, -1, eps);
    }

    /**
     * Names of the four projections and a prefix for the score/softmax/context nodes, so each
     * model keeps its published naming.
     */
    record AttentionNames(String core, String query, String key, String value, String output) {}

    /**
     * Multi-head self-attention of x [batch, seq, hidden]; {@code mask} is an additive
     * [batch, 1, 1, seq] term (0 to attend, a large negative number to ignore) or null.
     */
    static Value selfAttention(NetworkBuilder b, Value x, int heads, Value mask, AttentionNames n) {
        int batch = x.type().shape().dim(0), seq = x.type().shape().dim(1), hidden = x.type().shape().dim(2);
        if (hidden % heads != 0) throw new IllegalArgumentException("hidden size " + hidden + " is not divisible by " + heads + " heads");
        int headSize = hidden / heads;
        Value q = splitHeads(b, linear(b, x, n.query(), hidden), n.query(), batch, seq, heads, headSize, 0, 2, 1, 3);
        // keys go straight to [batch, heads, headSize, seq], the layout the score MatMul wants
        Value k = splitHeads(b, linear(b, x, n.key(), hidden), n.key(), batch, seq, heads, headSize, 0, 2, 3, 1);
        Value v = splitHeads(b, linear(b, x, n.value(), hidden), n.value(), batch, seq, heads, headSize, 0, 2, 1, 3);
        String s = n.core() + ".";
        Value scores = b.name(s + "scores").matmul(q, k);
        scores = b.name(s + "scale").div(scores, b.scalar(s + "scale_divisor", DType.F32, Math.sqrt(headSize)));
        if (mask != null) scores = b.name(s + "mask_add").add(scores, mask);
        Value probs = b.name(s + "softmax").softmax(scores, -1);
        Value context = b.name(s + "context").matmul(probs, v);
        context = b.name(s + "merge_heads").transpose(context, 0, 2, 1, 3);
        context = b.name(s + "merge_heads.reshape").reshape(context, batch, seq, hidden);
        return linear(b, context, n.output(), hidden);
    }

    private static Value splitHeads(NetworkBuilder b, Value x, String name, int batch, int seq, int heads, int headSize, int... perm) {
        Value r = b.name(name + ".reshape").reshape(x, batch, seq, heads, headSize);
        return b.name(name + ".transpose").transpose(r, perm);
    }

    /** Two dense layers with GELU between: hidden to ffn to hidden. */
    static Value mlp(NetworkBuilder b, Value x, String first, String act, String second, int ffn) {
        int hidden = x.type().shape().dim(-1);
        Value h = linear(b, x, first, ffn);
        h = b.name(act).gelu(h);
        return linear(b, h, second, hidden);
    }
}
