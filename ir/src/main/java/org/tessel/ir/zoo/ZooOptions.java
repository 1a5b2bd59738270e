package org.tessel.ir.zoo;

/**
 * How to build a zoo model: batch size, sequence length and encoder depth (0 means the model's
 * own default; only the transformer models take them), and the seed of the random weights.
 */
public record ZooOptions(int batch, int sequenceLength, int layers, long seed) {
    public static final long DEFAULT_SEED = 42;

    public ZooOptions {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (sequenceLength < 0) throw new IllegalArgumentException("sequenceLength must be 0 (model default) or positive, got " + sequenceLength);
        if (layers < 0) throw new IllegalArgumentException("layers must be 0 (model default) or positive, got " + layers);
    }

    /** Batch 1, the model's own sequence length and depth, seed 42. */
    public static ZooOptions defaults() { return new ZooOptions(1, 0, 0, DEFAULT_SEED); }

    public ZooOptions withBatch(int b) { return new ZooOptions(b, sequenceLength, layers, seed); }
    public ZooOptions withSequenceLength(int s) { return new ZooOptions(batch, s, layers, seed); }
    public ZooOptions withLayers(int l) { return new ZooOptions(batch, sequenceLength, l, seed); }
    public ZooOptions withSeed(long s) { return new ZooOptions(batch, sequenceLength, layers, s); }

    /** The sequence length to use: the option when set, else the model's default. */
    int sequenceLengthOr(int dflt) { return sequenceLength == 0 ? dflt : sequenceLength; }

    /** The depth to use: the option when set, else the model's default. */
    int layersOr(int dflt) { return layers == 0 ? dflt : layers; }
}
