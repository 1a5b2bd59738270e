package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * MobileNetV2 (Sandler et al. 2018, as torchvision builds it): a 3x3/2 stem, seventeen inverted
 * residual blocks (1x1 expansion, 3x3 depthwise, linear 1x1 projection; a skip connection where
 * stride is 1 and widths match), a 1x1 convolution to the last channel, global average pooling, a
 * fully connected layer and softmax. ReLU6 is Clip(0, 6); BN follows every convolution. Dropout is
 * an identity at inference and left out.
 */
final class MobileNetV2 {
    private MobileNetV2() {}

    /** One stage of the published table: expansion t, output channels c, blocks n, first stride s. */
    record Stage(int t, int c, int n, int s) {}

    static final Stage[] STAGES = {
        new Stage(1, 16, 1, 1), new Stage(6, 24, 2, 2), new Stage(6, 32, 3, 2), new Stage(6, 64, 4, 2),
        new Stage(6, 96, 3, 1), new Stage(6, 160, 3, 2), new Stage(6, 320, 1, 1),
    };

    /**
     * @param width          width multiplier on every channel count (1.0 published)
     * @param maxBlocks      caps the blocks per stage (the tiny variant keeps one)
     * @param lastChannel    channels of the final 1x1 convolution (1280 published)
     */
    record Config(double width, int maxBlocks, int lastChannel, int imageSize, int classes) {}

    static final Config MOBILENETV2 = new Config(1.0, Integer.MAX_VALUE, 1280, 224, 1000);
    static final Config MOBILENETV2_TINY = new Config(0.25, 1, 128, 32, 10);

    static final float BN_EPS = 1e-5f;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        int in = Layers.makeDivisible(32 * c.width(), 8);
        b.scope("features.0.");
        x = convBnRelu6(b, x, "", in, 3, 2, 1);
        int index = 1;
        for (Stage st : STAGES) {
            int out = Layers.makeDivisible(st.c() * c.width(), 8);
            for (int i = 0; i < Math.min(st.n(), c.maxBlocks()); i++) {
                b.scope("features." + index++ + ".");
                x = invertedResidual(b, x, in, out, i == 0 ? st.s() : 1, st.t());
                in = out;
            }
        }
        b.scope("features." + index + ".");
        x = convBnRelu6(b, x, "", c.lastChannel(), 1, 1, 0);
        b.scope("");
        return b.output(Layers.classifier(b, x, "classifier", c.classes())).build();
    }

    private static Value invertedResidual(NetworkBuilder b, Value x, int in, int out, int stride, int expand) {
        return depthwiseProject(b, x, expansion(b, x, in, expand), in, out, stride);
    }

    /** A block's 1x1 expansion to in * expand channels with BN and ReLU6 (x itself when expand is 1). */
    static Value expansion(NetworkBuilder b, Value x, int in, int expand) {
        int hidden = (int) Math.round(in * (double) expand);
        return expand == 1 ? x : convBnRelu6(b, x, "expand.", hidden, 1, 1, 0);
    }

    /** The rest of a block after its expansion y: 3x3 depthwise, linear projection, skip from the block's input x. */
    static Value depthwiseProject(NetworkBuilder b, Value x, Value y, int in, int out, int stride) {
        int hidden = y.type().shape().dim(1);
        y = Layers.conv(b, y, "depthwise.conv", hidden, 3, stride, 1, hidden);
        y = Layers.batchNorm(b, y, "depthwise.bn", hidden, BN_EPS);
        y = b.name("depthwise.relu6").clip(y, 0, 6);
        y = Layers.convBn(b, y, "project.conv", "project.bn", out, 1, 1, 0, 1, BN_EPS);
        return stride == 1 && in == out ? b.name("add").add(x, y) : y;
    }

    static Value convBnRelu6(NetworkBuilder b, Value x, String prefix, int out, int kernel, int stride, int pad) {
        Value y = Layers.convBn(b, x, prefix + "conv", prefix + "bn", out, kernel, stride, pad, 1, BN_EPS);
        return b.name(prefix + "relu6").clip(y, 0, 6);
    }
}
