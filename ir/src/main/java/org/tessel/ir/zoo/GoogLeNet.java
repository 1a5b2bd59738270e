package org.tessel.ir.zoo;

import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * GoogLeNet / Inception v1 (Szegedy et al. 2014), the batch-norm variant torchvision builds (no
 * LRN): every convolution is followed by BatchNormalization (eps 1e-3) and ReLU. Nine inception
 * modules concatenate four branches along channels: 1x1; 1x1 reduce then 3x3; 1x1 reduce then
 * 5x5; 3x3 max pool then 1x1 projection. Unlike torchvision, whose "5x5" branch is really a 3x3
 * (a known quirk kept for its pretrained weights), the third branch here uses the paper's 5x5
 * kernel, which gives the paper's 7.0 M parameters and 1.58 G multiply-adds (Table 1).
 * The auxiliary classifiers are training-only and left out, as is dropout.
 *
 * <p>torchvision's stride-2 max pools use ceil_mode; a padding of 1 gives the same output sizes
 * for every input size used here, and keeps to the most widely supported pooling form.
 */
final class GoogLeNet {
    private GoogLeNet() {}

    /** One inception module's branch widths: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection. */
    private record Inception(String name, int ch1x1, int ch3x3red, int ch3x3, int ch5x5red, int ch5x5, int poolProj) {}

    private static final Inception[] MODULES = {
        new Inception("inception3a", 64, 96, 128, 16, 32, 32),
        new Inception("inception3b", 128, 128, 192, 32, 96, 64),
        new Inception("inception4a", 192, 96, 208, 16, 48, 64),
        new Inception("inception4b", 160, 112, 224, 24, 64, 64),
        new Inception("inception4c", 128, 128, 256, 24, 64, 64),
        new Inception("inception4d", 112, 144, 288, 32, 64, 64),
        new Inception("inception4e", 256, 160, 320, 32, 128, 128),
        new Inception("inception5a", 256, 160, 320, 32, 128, 128),
        new Inception("inception5b", 384, 192, 384, 48, 128, 128),
    };

    /** @param widthDivisor divides every channel count (1 for the published model; must divide them all) */
    record Config(int widthDivisor, int imageSize, int classes) {
        Config {
            if (widthDivisor < 1 || 8 % widthDivisor != 0) throw new IllegalArgumentException("width divisor must divide 8, got " + widthDivisor);
        }
    }

    static final Config GOOGLENET = new Config(1, 224, 1000);
    static final Config GOOGLENET_TINY = new Config(8, 32, 10);

    private static final float BN_EPS = 1e-3f;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        int d = c.widthDivisor();
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        x = basicConv(b, x, "conv1.", 64 / d, 7, 2, 3);
        x = b.name("maxpool1").maxPool(x, 3, 2, 1);
        x = basicConv(b, x, "conv2.", 64 / d, 1, 1, 0);
        x = basicConv(b, x, "conv3.", 192 / d, 3, 1, 1);
        x = b.name("maxpool2").maxPool(x, 3, 2, 1);
        for (Inception m : MODULES) {
            x = inception(b, x, m, d);
            // downsample after 3b and 4e, as in the paper's Table 1
            if (m.name().equals("inception3b")) x = b.name("maxpool3").maxPool(x, 3, 2, 1);
            if (m.name().equals("inception4e")) x = b.name("maxpool4").maxPool(x, 2, 2, 0);
        }
        b.scope("");
        return b.output(Layers.classifier(b, x, "fc", c.classes())).build();
    }

    private static Value inception(NetworkBuilder b, Value x, Inception m, int d) {
        b.scope(m.name() + ".");
        Value br1 = basicConv(b, x, "branch1.", m.ch1x1() / d, 1, 1, 0);
        Value br2 = basicConv(b, x, "branch2.0.", m.ch3x3red() / d, 1, 1, 0);
        br2 = basicConv(b, br2, "branch2.1.", m.ch3x3() / d, 3, 1, 1);
        Value br3 = basicConv(b, x, "branch3.0.", m.ch5x5red() / d, 1, 1, 0);
        br3 = basicConv(b, br3, "branch3.1.", m.ch5x5() / d, 5, 1, 2);
        Value br4 = b.name("branch4.0").maxPool(x, 3, 1, 1);
        br4 = basicConv(b, br4, "branch4.1.", m.poolProj() / d, 1, 1, 0);
        Value out = b.name("concat").concat(1, br1, br2, br3, br4);
        b.scope("");
        return out;
    }

    /** torchvision's BasicConv2d: bias-free convolution, BatchNormalization, ReLU. */
    private static Value basicConv(NetworkBuilder b, Value x, String prefix, int out, int kernel, int stride, int pad) {
        Value y = Layers.convBn(b, x, prefix + "conv", prefix + "bn", out, kernel, stride, pad, 1, BN_EPS);
        return b.name(prefix + "relu").relu(y);
    }
}
