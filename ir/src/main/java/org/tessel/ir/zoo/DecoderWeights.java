package org.tessel.ir.zoo;

import java.util.Map;
import org.tessel.api.Tensor;

/**
 * Trained weights of a zoo decoder graph, by the graph's constant names (transformers' names:
 * {@code model.embed_tokens.weight}, {@code model.layers.N.self_attn.q_proj.weight}, ...) in the graph's
 * layouts (projections [in, out], the LM head [hidden, vocab]); {@code source} says where they came
 * from (a checkpoint folder). Graphs built with them ({@link Zoo#buildDecoder(String, DecoderConfig, DecoderShape, long, DecoderWeights)})
 * read each tensor on first use.
 */
public record DecoderWeights(String source, Map<String, Tensor> tensors) {
    public DecoderWeights {
        tensors = Map.copyOf(tensors);
    }

    /** The tensor of a constant; one the weights lack is refused naming the source and the constant. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException(source + ": no weight " + name);
        return t;
    }
}
