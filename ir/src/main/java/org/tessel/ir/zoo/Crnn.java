package org.tessel.ir.zoo;

import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.OpRegistry;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * A CRNN-style text-line recognizer (Shi et al. 2015): the paper's convolutional feature extractor
 * on a 32-pixel-high grey image of any width (seven 3x3/2x2 convolutions of 64 to 512 channels,
 * BN after the 3rd, 5th and 7th, 2x2 max pools then pools that halve only the height, so that the
 * width keeps one column per 4 pixels), the height-1 feature map read as a sequence over the width
 * columns, a sequence model over that sequence, and per-column class logits with LogSoftmax (the
 * input of CTC decoding: 36 letters and digits and a blank).
 *
 * <p>The paper's sequence model is a two-layer bidirectional LSTM, which {@link #buildLstm} builds
 * ({@code zoo:crnn-lstm}); {@link #build} ({@code zoo:crnn}) puts a pre-LN transformer encoder over
 * the columns in its place (dense projection to the model width, self-attention in both directions,
 * GELU MLP), as in transformer-based recognizers, which runs on the GPU. The
 * last convolution is the paper's 2x2 without padding, so an image of width W gives W/4 - 1
 * columns; {@link ZooOptions#sequenceLength} picks the number of columns (the image width follows)
 * and {@link ZooOptions#layers} the encoder depth.
 */
final class Crnn {
    private Crnn() {}

    /**
     * @param widthDivisor divides the paper's convolution widths (1 published)
     * @param columns      default sequence length (24: the paper's 100-pixel-wide input)
     */
    record Config(int widthDivisor, int hidden, int layers, int heads, int ffn, int columns, int classes) {
        Config {
            if (hidden % heads != 0) throw new IllegalArgumentException("hidden size " + hidden + " is not divisible by " + heads + " heads");
        }
    }

    static final Config CRNN = new Config(1, 256, 2, 4, 1024, 24, 37);
    static final Config CRNN_TINY = new Config(8, 32, 1, 2, 64, 7, 37);
    /** The paper's sequence model: two bidirectional LSTMs of 256 units (heads and ffn unused). */
    static final Config CRNN_LSTM = new Config(1, 256, 2, 1, 0, 24, 37);
    static final Config CRNN_LSTM_TINY = new Config(8, 32, 2, 1, 0, 7, 37);

    static final int HEIGHT = 32;
    private static final float BN_EPS = 1e-5f;
    private static final float LN_EPS = 1e-5f;

    /** The image width that gives this many columns. */
    static int imageWidth(int columns) { return 4 * (columns + 1); }

    static Graph build(String name, Config c, ZooOptions o) {
        int columns = o.sequenceLengthOr(c.columns()), layers = o.layersOr(c.layers());
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("image", DType.F32, o.batch(), 1, HEIGHT, imageWidth(columns));
        x = features(b, x, c);
        x = b.name("columns_to_sequence").transpose(x, 0, 2, 1);   // [N, T, C]
        b.scope("encoder.");
        x = Transformer.linear(b, x, "input_proj", c.hidden());
        for (int i = 0; i < layers; i++) {
            b.scope("encoder.layers." + i + ".");
            Value h = Transformer.layerNorm(b, x, "norm1", LN_EPS);
            h = Transformer.selfAttention(b, h, c.heads(), null, new Transformer.AttentionNames(
                    "self_attn", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"));
            x = b.name("residual1").add(x, h);
            h = Transformer.layerNorm(b, x, "norm2", LN_EPS);
            h = Transformer.mlp(b, h, "linear1", "gelu", "linear2", c.ffn());
            x = b.name("residual2").add(x, h);
        }
        b.scope("encoder.");
        x = Transformer.layerNorm(b, x, "norm", LN_EPS);
        b.scope("");
        Value logits = Transformer.linear(b, x, "classifier", c.classes());
        Value logProbs = b.name("log_probs").op("LogSoftmax", Attributes.builder().put("axis", -1L).build(), logits);
        return b.output(logProbs).build();
    }

    /** The paper's convolutional feature extractor, the height-1 map squeezed: [N, 1, 32, W] to [N, C, T]. */
    private static Value features(NetworkBuilder b, Value x, Config c) {
        int d = c.widthDivisor();
        b.scope("cnn.");
        x = convRelu(b, x, 0, 64 / d, 3, 1, false);
        x = pool(b, x, "pooling0", 2, 2);
        x = convRelu(b, x, 1, 128 / d, 3, 1, false);
        x = pool(b, x, "pooling1", 2, 2);
        x = convRelu(b, x, 2, 256 / d, 3, 1, true);
        x = convRelu(b, x, 3, 256 / d, 3, 1, false);
        x = pool(b, x, "pooling2", 2, 1);
        x = convRelu(b, x, 4, 512 / d, 3, 1, true);
        x = convRelu(b, x, 5, 512 / d, 3, 1, false);
        x = pool(b, x, "pooling3", 2, 1);
        x = convRelu(b, x, 6, 512 / d, 2, 0, true);
        b.scope("");
        return b.name("squeeze_height").squeeze(x, 2);
    }

    /**
     * The paper's own sequence model (as crnn.pytorch writes it): {@code layers} bidirectional LSTMs
     * of {@code hidden} units, each followed by a linear layer of its two directions' outputs (to
     * {@code hidden} between layers, to the classes after the last), over the columns in sequence-first
     * order as PyTorch's LSTM and its ONNX export read them, then per-column LogSoftmax as
     * [batch, columns, classes]. The LSTM weights are seeded uniform in +-1/sqrt(hidden) (PyTorch's
     * initialisation).
     */
    static Graph buildLstm(String name, Config c, ZooOptions o) {
        int columns = o.sequenceLengthOr(c.columns()), layers = o.layersOr(c.layers()), n = o.batch(), h = c.hidden();
        NetworkBuilder b = new NetworkBuilder(name, OpRegistry.global(), o.seed());
        Value x = b.input("image", DType.F32, n, 1, HEIGHT, imageWidth(columns));
        x = features(b, x, c);
        x = b.name("columns_to_sequence").transpose(x, 2, 0, 1);   // [T, N, C]
        float bound = (float) (1 / Math.sqrt(h));
        for (int i = 0; i < layers; i++) {
            b.scope("rnn." + i + ".");
            int in = x.type().shape().dim(2);
            Value w = b.uniformWeights("rnn.weight_ih", -bound, bound, 2, 4 * h, in);
            Value r = b.uniformWeights("rnn.weight_hh", -bound, bound, 2, 4 * h, h);
            Value bias = b.uniformWeights("rnn.bias", -bound, bound, 2, 8 * h);
            Value y = b.node("LSTM", "rnn", Attributes.builder().put("direction", "bidirectional").put("hidden_size", (long) h).build(), 1, x, w, r, bias).output();
            y = b.name("directions_last").transpose(y, 0, 2, 1, 3);            // [T, N, 2, H]
            y = b.name("concat_directions").reshape(y, 0, 0, -1);   // [T, N, 2H], batch- and width-generic as PyTorch exports it
            x = Transformer.linear(b, y, "embedding", i == layers - 1 ? c.classes() : h);
        }
        b.scope("");
        x = b.name("batch_first").transpose(x, 1, 0, 2);                      // [N, T, classes]
        Value logProbs = b.name("log_probs").op("LogSoftmax", Attributes.builder().put("axis", -1L).build(), x);
        return b.output(logProbs).build();
    }

    private static Value convRelu(NetworkBuilder b, Value x, int i, int out, int kernel, int pad, boolean batchNorm) {
        Value y;
        if (batchNorm) {
            y = Layers.convBn(b, x, "conv" + i, "batchnorm" + i, out, kernel, 1, pad, 1, BN_EPS);
        } else {
            int in = x.type().shape().dim(1);
            Value w = b.randomWeights("conv" + i + ".weight", out, in, kernel, kernel);
            y = b.name("conv" + i).conv(x, w, b.normalWeights("conv" + i + ".bias", 0.01f, out), 1, pad);
        }
        return b.name("relu" + i).relu(y);
    }

    /** Max pooling over a (2, strideW) window with stride (2, strideW): both axes, or the height only. */
    private static Value pool(NetworkBuilder b, Value x, String name, int kernelH, int kernelW) {
        Attributes at = Attributes.builder().putInts("kernel_shape", new int[] {kernelH, kernelW})
                .putInts("strides", new int[] {kernelH, kernelW}).putInts("pads", new int[] {0, 0, 0, 0}).build();
        return b.name(name).op("MaxPool", at, x);
    }
}
