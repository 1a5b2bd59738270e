package org.tessel.ir.zoo;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * ResNet v1.5 with bottleneck blocks (He et al. 2015, as torchvision builds it): a 7x7/2 stem and
 * 3x3/2 max pool, four stages of 1x1-3x3-1x1 bottlenecks with 4x expansion, where the stride of a
 * stage's first block sits on the 3x3 convolution (the "v1.5" change) and a 1x1 projection
 * shortcut matches shapes; BatchNormalization after every convolution, global average pooling, a
 * fully connected layer and softmax. Names follow torchvision ("layer2.0.downsample.0").
 */
final class ResNet {
    private ResNet() {}

    /**
     * @param blocks       bottleneck blocks per stage ({3,4,6,3} for ResNet-50)
     * @param widthDivisor divides every channel count (1 for the published model)
     */
    record Config(List<Integer> blocks, int widthDivisor, int imageSize, int classes) {
        Config {
            blocks = List.copyOf(blocks);
            if (blocks.size() != 4) throw new IllegalArgumentException("ResNet has 4 stages, got " + blocks);
        }
    }

    static final Config RESNET50 = new Config(List.of(3, 4, 6, 3), 1, 224, 1000);
    static final Config RESNET50_TINY = new Config(List.of(1, 1, 1, 1), 16, 32, 10);

    private static final float BN_EPS = 1e-5f;
    private static final int EXPANSION = 4;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, org.tessel.api.OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        int stem = 64 / c.widthDivisor();
        x = Layers.convBn(b, x, "conv1", "bn1", stem, 7, 2, 3, 1, BN_EPS);
        x = b.name("relu").relu(x);
        x = b.name("maxpool").maxPool(x, 3, 2, 1);
        int in = stem;
        for (int stage = 0; stage < 4; stage++) {
            int width = (64 << stage) / c.widthDivisor();
            for (int i = 0; i < c.blocks().get(stage); i++) {
                int stride = stage > 0 && i == 0 ? 2 : 1;
                b.scope("layer" + (stage + 1) + "." + i + ".");
                x = bottleneck(b, x, in, width, stride);
                in = width * EXPANSION;
            }
        }
        b.scope("");
        Value probs = Layers.classifier(b, x, "fc", c.classes());
        return b.output(probs).build();
    }

    private static Value bottleneck(NetworkBuilder b, Value x, int in, int width, int stride) {
        int out = width * EXPANSION;
        Value y = Layers.convBn(b, x, "conv1", "bn1", width, 1, 1, 0, 1, BN_EPS);
        y = b.name("relu1").relu(y);
        y = Layers.convBn(b, y, "conv2", "bn2", width, 3, stride, 1, 1, BN_EPS);
        y = b.name("relu2").relu(y);
        y = Layers.convBn(b, y, "conv3", "bn3", out, 1, 1, 0, 1, BN_EPS);
        Value shortcut = stride != 1 || in != out
                ? Layers.convBn(b, x, "downsample.0", "downsample.1", out, 1, stride, 0, 1, BN_EPS)
                : x;
        Value sum = b.name("add").add(y, shortcut);
        return b.name("relu3").relu(sum);
    }
}
