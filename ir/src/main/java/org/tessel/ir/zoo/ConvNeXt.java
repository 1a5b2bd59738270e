package org.tessel.ir.zoo;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * ConvNeXt-T (Liu et al. 2022, as torchvision builds it): a 4x4/4 "patchify" stem convolution and
 * LayerNorm, four stages of ConvNeXt blocks ([3,3,9,3] blocks of [96,192,384,768] channels) with a
 * LayerNorm and a 2x2/2 convolution between stages, global average pooling, LayerNorm, a fully
 * connected layer and softmax.
 *
 * <p>A block is torchvision's {@code CNBlock}: a biased depthwise 7x7 convolution (NCHW), a
 * Transpose to channels-last (NHWC), LayerNorm over the channels (eps 1e-6), the pointwise MLP as
 * two dense layers on the last axis (MatMul + Add, C -> 4C, exact GELU, 4C -> C), a Transpose back,
 * the per-channel layer scale ([C,1,1], Mul) and the residual Add. The LayerNorms of the stem and
 * of the downsampling layers ({@code LayerNorm2d}) are the same Transpose, LayerNorm, Transpose.
 * Layer scales are drawn near 0.1 rather than torchvision's initial 1e-6, so that the untrained
 * blocks are not identities; stochastic depth is an identity at inference and left out.
 */
final class ConvNeXt {
    private ConvNeXt() {}

    record Config(List<Integer> dims, List<Integer> depths, int imageSize, int classes) {
        Config {
            dims = List.copyOf(dims);
            depths = List.copyOf(depths);
            if (dims.size() != 4 || depths.size() != 4) throw new IllegalArgumentException("ConvNeXt has 4 stages, got dims " + dims + ", depths " + depths);
        }
    }

    static final Config CONVNEXT_TINY = new Config(List.of(96, 192, 384, 768), List.of(3, 3, 9, 3), 224, 1000);
    static final Config CONVNEXT_TINY_CI = new Config(List.of(8, 16, 32, 64), List.of(1, 1, 1, 1), 32, 10);

    private static final float LN_EPS = 1e-6f;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        int index = 0;
        for (int stage = 0; stage < 4; stage++) {
            int dim = c.dims().get(stage);
            b.scope("features." + index++ + ".");
            if (stage == 0) {
                x = biasedConv(b, x, "0", dim, 4, 4, 0, 1);
                x = layerNorm2d(b, x, "1");
            } else {
                x = layerNorm2d(b, x, "0");
                x = biasedConv(b, x, "1", dim, 2, 2, 0, 1);
            }
            for (int i = 0; i < c.depths().get(stage); i++) {
                b.scope("features." + index + "." + i + ".");
                x = block(b, x, dim);
            }
            index++;
        }
        b.scope("");
        Value pooled = b.name("avgpool").globalAvgPool(x);
        Value flat = b.name("flatten").flatten(pooled, 1);
        // classifier.0 is a LayerNorm2d on [N,C,1,1]; on the flattened [N,C] it is a plain LayerNorm over C
        flat = Transformer.layerNorm(b, flat, "classifier.0", LN_EPS);
        return b.output(Layers.fcSoftmax(b, flat, "classifier.2", c.classes())).build();
    }

    private static Value block(NetworkBuilder b, Value x, int dim) {
        Value y = biasedConv(b, x, "block.0", dim, 7, 1, 3, dim);
        y = b.name("block.1").transpose(y, 0, 2, 3, 1);
        y = Transformer.layerNorm(b, y, "block.2", LN_EPS);
        y = Transformer.mlp(b, y, "block.3", "block.4", "block.5", 4 * dim);
        y = b.name("block.6").transpose(y, 0, 3, 1, 2);
        y = b.name("layer_scale").mul(y, b.uniformWeights("layer_scale", 0.05f, 0.15f, dim, 1, 1));
        return b.name("add").add(x, y);
    }

    /** LayerNorm over the channels of an NCHW tensor: to channels-last, normalize the last axis, back. */
    private static Value layerNorm2d(NetworkBuilder b, Value x, String name) {
        Value y = b.name(name + ".to_nhwc").transpose(x, 0, 2, 3, 1);
        y = Transformer.layerNorm(b, y, name, LN_EPS);
        return b.name(name + ".to_nchw").transpose(y, 0, 3, 1, 2);
    }

    private static Value biasedConv(NetworkBuilder b, Value x, String name, int out, int kernel, int stride, int pad, int group) {
        int in = x.type().shape().dim(1);
        Value w = b.randomWeights(name + ".weight", out, in / group, kernel, kernel);
        return b.name(name).conv(x, w, b.normalWeights(name + ".bias", 0.01f, out), stride, pad, 1, group);
    }
}
