package org.tessel.ir.zoo;

/**
 * Which form of a decoder graph to build: {@code batch} sequences, each with {@code newTokens}
 * tokens on top of {@code pastLength} cached ones. Prefill is past 0 (the graph has no cache
 * inputs); decode is one new token.
 */
public record DecoderShape(int batch, int newTokens, int pastLength) {
    public DecoderShape {
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        if (newTokens < 1) throw new IllegalArgumentException("newTokens must be at least 1, got " + newTokens);
        if (pastLength < 0) throw new IllegalArgumentException("pastLength must be 0 or more, got " + pastLength);
    }

    public static DecoderShape prefill(int batch, int promptLength) { return new DecoderShape(batch, promptLength, 0); }

    public static DecoderShape decode(int batch, int pastLength) { return new DecoderShape(batch, 1, pastLength); }
}
