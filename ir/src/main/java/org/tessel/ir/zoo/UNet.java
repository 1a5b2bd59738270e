package org.tessel.ir.zoo;

import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * U-Net (Ronneberger et al. 2015) for segmentation, as the widely used PyTorch implementation
 * (milesial/Pytorch-UNet, {@code UNet(3, classes, bilinear)}) builds it: padded 3x3 convolutions so
 * that every level keeps its size; an encoder of five double convolutions (3x3 conv, BN, ReLU,
 * twice; 64 to 1024 channels) with 2x2 max pooling between them; a decoder of four up steps, each
 * upsampling by 2, concatenating the encoder's feature map of that level (the skip connection)
 * before the upsampled one along the channels, and a double convolution; a 1x1 convolution to
 * per-pixel class logits [N, classes, H, W].
 *
 * <p>Two upsampling forms, as the implementation's {@code bilinear} flag: a learned 2x2/2
 * ConvTranspose halving the channels (the paper's "up-convolution"), or a bilinear Resize
 * (align_corners, as {@code nn.Upsample}) with the bottom level and each up step's output at half
 * width to keep the concatenations' widths equal.
 */
final class UNet {
    private UNet() {}

    /**
     * @param base     channels of the first level (64 published); level k has base * 2^k
     * @param bilinear Resize instead of ConvTranspose for upsampling
     */
    record Config(int base, boolean bilinear, int imageSize, int classes) {
        Config {
            if (imageSize % 16 != 0) throw new IllegalArgumentException("U-Net pools 4 times; the image size " + imageSize + " is not a multiple of 16");
        }
    }

    static final Config UNET = new Config(64, false, 256, 2);
    static final Config UNET_TINY = new Config(8, false, 32, 2);
    static final Config UNET_BILINEAR = new Config(64, true, 256, 2);
    static final Config UNET_BILINEAR_TINY = new Config(8, true, 32, 2);

    private static final float BN_EPS = 1e-5f;

    static Graph build(String name, Config c, ZooOptions o) {
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("input", DType.F32, o.batch(), 3, c.imageSize(), c.imageSize());
        int factor = c.bilinear() ? 2 : 1;
        Value[] skips = new Value[4];
        b.scope("inc.");
        x = doubleConv(b, x, c.base(), c.base());
        for (int level = 1; level <= 4; level++) {
            skips[level - 1] = x;
            b.scope("down" + level + ".");
            int out = (c.base() << level) / (level == 4 ? factor : 1);
            x = b.name("maxpool").maxPool(x, 2, 2, 0);
            x = doubleConv(b, x, out, out);
        }
        for (int step = 1; step <= 4; step++) {
            b.scope("up" + step + ".");
            int in = c.base() << (5 - step);                    // channels after the concatenation
            int out = (in / 2) / (c.bilinear() && step < 4 ? factor : 1);
            Value up = c.bilinear() ? upsampleBilinear(b, x) : upConv(b, x, in / 2);
            x = b.name("concat").concat(1, skips[4 - step], up);
            x = c.bilinear() ? doubleConv(b, x, in / 2, out) : doubleConv(b, x, out, out);
        }
        b.scope("");
        Value w = b.randomWeights("outc.conv.weight", c.classes(), c.base(), 1, 1);
        Value logits = b.name("logits").conv(x, w, b.normalWeights("outc.conv.bias", 0.01f, c.classes()), 1, 0);
        return b.output(logits).build();
    }

    /** Two 3x3 convolutions (no bias), each followed by BN and ReLU: in -> mid -> out. */
    private static Value doubleConv(NetworkBuilder b, Value x, int mid, int out) {
        Value y = Layers.convBn(b, x, "double_conv.0", "double_conv.1", mid, 3, 1, 1, 1, BN_EPS);
        y = b.name("double_conv.2").relu(y);
        y = Layers.convBn(b, y, "double_conv.3", "double_conv.4", out, 3, 1, 1, 1, BN_EPS);
        return b.name("double_conv.5").relu(y);
    }

    /** The learned 2x2/2 up-convolution (ConvTranspose with bias). */
    private static Value upConv(NetworkBuilder b, Value x, int out) {
        int in = x.type().shape().dim(1);
        // ConvTranspose weights are [C_in, C_out, kH, kW]; its fan-in per output is C_in (one tap each)
        Value w = b.heNormal("up.weight", in, in, out, 2, 2);
        Attributes at = Attributes.builder().putInts("kernel_shape", new int[] {2, 2}).putInts("strides", new int[] {2, 2}).build();
        return b.name("up").op("ConvTranspose", at, x, w, b.normalWeights("up.bias", 0.01f, out));
    }

    /**
     * nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True) as ONNX Resize, the output
     * size given as i64 sizes (the graph is static), which are shape data rather than weights.
     */
    private static Value upsampleBilinear(NetworkBuilder b, Value x) {
        Attributes at = Attributes.builder().put("mode", "linear").put("coordinate_transformation_mode", "align_corners").build();
        Shape s = x.type().shape();
        Value sizes = b.longs("up.sizes", s.dim(0), s.dim(1), 2L * s.dim(2), 2L * s.dim(3));
        return b.name("up").op("Resize", at, x, null, null, sizes);
    }
}
