package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * EfficientNet-B0 (Tan and Le 2019, as torchvision builds it): a 3x3/2 stem, sixteen MBConv blocks
 * in seven stages (1x1 expansion, 3x3 or 5x5 depthwise, squeeze-excitation, linear 1x1 projection;
 * a skip connection where stride is 1 and widths match), a 1x1 convolution to 1280 channels, global
 * average pooling, a fully connected layer and softmax. SiLU is written as x * Sigmoid(x), the form
 * PyTorch exports; BN follows every convolution and stays unfolded, as in the other zoo CNNs.
 * Squeeze-excitation pools to [N,C,1,1], reduces to a quarter of the block's input channels with a
 * biased 1x1 convolution and SiLU, expands back with a sigmoid gate and scales the features.
 * Stochastic depth and dropout are identities at inference and left out.
 */
final class EfficientNet {
    private EfficientNet() {}

    /** One stage of torchvision's B0 table: expansion, kernel, first stride, output channels, blocks. */
    private record Stage(int expand, int kernel, int stride, int out, int blocks) {}

    private static final Stage[] STAGES = {
        new Stage(1, 3, 1, 16, 1), new Stage(6, 3, 2, 24, 2), new Stage(6, 5, 2, 40, 2), new Stage(6, 3, 2, 80, 3),
        new Stage(6, 5, 1, 112, 3), new Stage(6, 5, 2, 192, 4), new Stage(6, 3, 1, 320, 1),
    };

    /**
     * @param width       multiplier on every channel count (1.0 for B0), rounded to multiples of 8
     * @param maxBlocks   caps the blocks per stage (the tiny variant keeps one)
     * @param lastChannel channels of the final 1x1 convolution (1280 for B0)
     */
    record Config(double width, int maxBlocks, int lastChannel, int imageSize, int classes) {}

    static final Config EFFICIENTNET_B0 = new Config(1.0, Integer.MAX_VALUE, 1280, 224, 1000);
    static final Config EFFICIENTNET_B0_TINY = new Config(0.25, 1, 128, 32, 10);

    private static final float BN_EPS = 1e-5f;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        int in = Layers.makeDivisible(32 * c.width(), 8);
        b.scope("features.0.");
        x = convBnSilu(b, x, "", in, 3, 2);
        for (int s = 0; s < STAGES.length; s++) {
            Stage st = STAGES[s];
            int out = Layers.makeDivisible(st.out() * c.width(), 8);
            for (int i = 0; i < Math.min(st.blocks(), c.maxBlocks()); i++) {
                b.scope("features." + (s + 1) + "." + i + ".");
                x = mbConv(b, x, in, out, st.expand(), st.kernel(), i == 0 ? st.stride() : 1);
                in = out;
            }
        }
        b.scope("features." + (STAGES.length + 1) + ".");
        x = convBnSilu(b, x, "", c.lastChannel(), 1, 1);
        b.scope("");
        return b.output(Layers.classifier(b, x, "classifier.1", c.classes())).build();
    }

    private static Value mbConv(NetworkBuilder b, Value x, int in, int out, int expand, int kernel, int stride) {
        int hidden = Layers.makeDivisible(in * (double) expand, 8);
        Value y = x;
        if (expand != 1) y = convBnSilu(b, y, "expand.", hidden, 1, 1);
        Value dw = Layers.conv(b, y, "depthwise.conv", hidden, kernel, stride, (kernel - 1) / 2, hidden);
        y = silu(b, Layers.batchNorm(b, dw, "depthwise.bn", hidden, BN_EPS), "depthwise.silu");
        y = squeezeExcitation(b, y, Math.max(1, in / 4));
        y = Layers.convBn(b, y, "project.conv", "project.bn", out, 1, 1, 0, 1, BN_EPS);
        return stride == 1 && in == out ? b.name("add").add(x, y) : y;
    }

    /** Channel attention: pool, 1x1 reduce (biased) + SiLU, 1x1 expand (biased) + sigmoid, scale. */
    private static Value squeezeExcitation(NetworkBuilder b, Value x, int squeeze) {
        int channels = x.type().shape().dim(1);
        Value s = b.name("se.avgpool").globalAvgPool(x);
        s = b.name("se.fc1").conv(s, b.randomWeights("se.fc1.weight", squeeze, channels, 1, 1), b.normalWeights("se.fc1.bias", 0.01f, squeeze), 1, 0);
        s = silu(b, s, "se.silu");
        s = b.name("se.fc2").conv(s, b.randomWeights("se.fc2.weight", channels, squeeze, 1, 1), b.normalWeights("se.fc2.bias", 0.01f, channels), 1, 0);
        s = b.name("se.sigmoid").sigmoid(s);
        return b.name("se.scale").mul(x, s);
    }

    private static Value convBnSilu(NetworkBuilder b, Value x, String prefix, int out, int kernel, int stride) {
        Value y = Layers.convBn(b, x, prefix + "conv", prefix + "bn", out, kernel, stride, (kernel - 1) / 2, 1, BN_EPS);
        return silu(b, y, prefix + "silu");
    }

    /** SiLU as PyTorch exports it: x * Sigmoid(x). */
    static Value silu(NetworkBuilder b, Value x, String name) {
        Value gate = b.name(name + ".sigmoid").sigmoid(x);
        return b.name(name).mul(x, gate);
    }
}
