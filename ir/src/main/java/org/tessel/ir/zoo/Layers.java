package org.tessel.ir.zoo;

import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Value;

/**
 * Building blocks shared by the convolutional zoo models. Weights are named like torchvision's
 * state dict ("layer1.0.bn1.running_var") under the builder's scope, so a node or weight can be
 * traced back to the published architecture.
 *
 * <p>Batch-norm statistics are random but tame (gamma and variance near 1, beta and mean near 0):
 * the models are never trained, and this keeps activations finite through deep stacks while still
 * making the BN-folding pass do real arithmetic.
 */
final class Layers {
    private Layers() {}

    /** BatchNormalization over channels with random, near-identity statistics. */
    static Value batchNorm(NetworkBuilder b, Value x, String name, int channels, float eps) {
        Value gamma = b.uniformWeights(name + ".weight", 0.9f, 1.1f, channels);
        Value beta = b.normalWeights(name + ".bias", 0.05f, channels);
        Value mean = b.normalWeights(name + ".running_mean", 0.05f, channels);
        Value var = b.uniformWeights(name + ".running_var", 0.9f, 1.1f, channels);
        return b.name(name).batchNorm(x, gamma, beta, mean, var, eps);
    }

    /** A bias-free square convolution with He-normal weights. */
    static Value conv(NetworkBuilder b, Value x, String name, int outChannels, int kernel, int stride, int pad, int group) {
        int inChannels = x.type().shape().dim(1);
        if (inChannels % group != 0 || outChannels % group != 0)
            throw new IllegalArgumentException(name + ": channels " + inChannels + " -> " + outChannels + " do not divide into " + group + " groups");
        Value w = b.randomWeights(name + ".weight", outChannels, inChannels / group, kernel, kernel);
        return b.name(name).conv(x, w, null, stride, pad, 1, group);
    }

    /** Convolution then BatchNormalization, kept as two ops (the passes fold them). */
    static Value convBn(NetworkBuilder b, Value x, String convName, String bnName, int outChannels, int kernel, int stride, int pad, int group, float eps) {
        Value y = conv(b, x, convName, outChannels, kernel, stride, pad, group);
        return batchNorm(b, y, bnName, outChannels, eps);
    }

    /** Global average pooling, flatten, a fully connected layer and softmax: [N,C,H,W] to [N,classes]. */
    static Value classifier(NetworkBuilder b, Value features, String fcName, int classes) {
        Value pooled = b.name("avgpool").globalAvgPool(features);
        Value flat = b.name("flatten").flatten(pooled, 1);
        return fcSoftmax(b, flat, fcName, classes);
    }

    /** Gemm with a [classes, in] He-normal weight and zero-mean bias, then softmax over classes. */
    static Value fcSoftmax(NetworkBuilder b, Value flat, String fcName, int classes) {
        int in = flat.type().shape().dim(-1);
        Value w = b.randomWeights(fcName + ".weight", classes, in);
        Value bias = b.normalWeights(fcName + ".bias", 0.01f, classes);
        Value logits = b.name(fcName).gemm(flat, w, bias, true);
        return b.name("probabilities").softmax(logits, 1);
    }

    /** Rounds channels to a multiple of the divisor without dropping below 90% (MobileNet's rule). */
    static int makeDivisible(double channels, int divisor) {
        int v = Math.max(divisor, (int) (channels + divisor / 2.0) / divisor * divisor);
        if (v < 0.9 * channels) v += divisor;
        return v;
    }
}
