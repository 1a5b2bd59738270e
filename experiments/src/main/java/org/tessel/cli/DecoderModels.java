package org.tessel.cli;

import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.llm.DecoderRunner;

/** How the generation verbs name a decoder: zoo:NAME of one of the zoo's decoders, weights from the zoo's seed. */
final class DecoderModels {
    private DecoderModels() {}

    static DecoderRunner runner(String model, Integer layers) {
        if (model == null) throw new IllegalArgumentException("no model: give MODEL, a zoo decoder (" + zooNames() + ")");
        if (!model.startsWith("zoo:"))
            throw new IllegalArgumentException(model + ": generation runs the zoo's decoders (" + zooNames() + "); decoders from ONNX files are not supported yet");
        String name = model.substring(4);
        DecoderConfig c = Zoo.decoder(name, layers == null ? 0 : layers);
        return new DecoderRunner(name, c, ZooOptions.DEFAULT_SEED);
    }

    /** One line describing the model and what it does not have. */
    static String describe(DecoderRunner r) {
        DecoderConfig c = r.config();
        return String.format("model: zoo:%s (%s, %d layers, width %d, %d heads / %d KV heads, vocab %d, %d positions; seeded random weights: "
                + "token ids in and out, the zoo decoders have no tokenizer)", r.model(), c.family() == DecoderConfig.Family.LLAMA ? "Llama" : "GPT-2",
                c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.vocab(), c.maxPositions());
    }

    private static String zooNames() { return "zoo:" + String.join(", zoo:", Zoo.decoderNames()); }
}
