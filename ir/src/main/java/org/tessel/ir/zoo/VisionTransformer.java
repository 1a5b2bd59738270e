package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Vision Transformer (Dosovitskiy et al. 2020; ViT-B/16 as torchvision builds it): a patch
 * embedding Conv with kernel and stride equal to the patch size, flattened to a token sequence;
 * a learned class token prepended with Concat (Expand-ed to the batch) and a learned position
 * embedding added; pre-LN encoder blocks (LayerNorm, self-attention, residual Add; LayerNorm, GELU
 * MLP, residual Add); a final LayerNorm; the class token (Gather at position 0) through the head
 * and softmax. Dropout is an identity at inference and left out.
 */
final class VisionTransformer {
    private VisionTransformer() {}

    record Config(int imageSize, int patch, int hidden, int layers, int heads, int mlp, int classes) {
        Config {
            if (imageSize % patch != 0) throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of the patch size " + patch);
            if (hidden % heads != 0) throw new IllegalArgumentException("hidden size " + hidden + " is not divisible by " + heads + " heads");
        }

        int patches() { return (imageSize / patch) * (imageSize / patch); }
    }

    static final Config VIT_B16 = new Config(224, 16, 768, 12, 12, 3072, 1000);
    static final Config VIT_TINY = new Config(32, 4, 64, 2, 2, 128, 10);

    private static final float LN_EPS = 1e-6f;
    private static final float TOKEN_STD = 0.02f;

    static Graph build(String name, Config c, ZooOptions o) {
        if (o.sequenceLength() != 0)
            throw new IllegalArgumentException(name + " takes no sequence length: its " + (c.patches() + 1) + " tokens follow from the image and patch size");
        int batch = o.batch(), d = c.hidden(), tokens = c.patches() + 1;
        int layers = o.layersOr(c.layers());
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, batch, 3, c.imageSize(), c.imageSize());

        Value w = b.randomWeights("conv_proj.weight", d, 3, c.patch(), c.patch());
        x = b.name("conv_proj").conv(x, w, b.normalWeights("conv_proj.bias", TOKEN_STD, d), c.patch(), 0);
        x = b.name("flatten_patches").reshape(x, batch, d, c.patches());
        x = b.name("patches_to_tokens").transpose(x, 0, 2, 1);
        Value cls = b.name("class_token.expand").expand(b.normalWeights("class_token", TOKEN_STD, 1, 1, d), batch, 1, d);
        x = b.name("prepend_class_token").concat(1, cls, x);
        b.scope("encoder.");
        x = b.name("add_pos_embedding").add(x, b.normalWeights("pos_embedding", TOKEN_STD, 1, tokens, d));

        for (int i = 0; i < layers; i++) {
            b.scope("encoder.layers.encoder_layer_" + i + ".");
            Value h = Transformer.layerNorm(b, x, "ln_1", LN_EPS);
            h = Transformer.selfAttention(b, h, c.heads(), null, new Transformer.AttentionNames(
                    "self_attention", "self_attention.query", "self_attention.key", "self_attention.value", "self_attention.out_proj"));
            x = b.name("residual_1").add(x, h);
            h = Transformer.layerNorm(b, x, "ln_2", LN_EPS);
            h = Transformer.mlp(b, h, "mlp.0", "mlp.1", "mlp.3", c.mlp());
            x = b.name("residual_2").add(x, h);
        }
        b.scope("encoder.");
        x = Transformer.layerNorm(b, x, "ln", LN_EPS);
        b.scope("");
        Value first = b.name("class_token.select").gather(x, b.scalar("class_token_index", DType.I64, 0), 1);
        return b.output(Layers.fcSoftmax(b, first, "heads.head", c.classes())).build();
    }
}
