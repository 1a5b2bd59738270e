package org.tessel.runtime.llm;

import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (the arg-max, lowest id on a tie) or sampling at a
 * temperature from the top k logits (k = 0: all), with a seeded generator per request so a
 * request's tokens do not depend on what it was batched with.
 */
public final class Sampler {
    private final boolean greedy;
    private final double temperature;
    private final int topK;
    private final SplittableRandom random;

    private Sampler(boolean greedy, double temperature, int topK, long seed) {
        this.greedy = greedy;
        this.temperature = temperature;
        this.topK = topK;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() { return new Sampler(true, 0, 0, 0); }

    /** Sampling with {@code temperature} (> 0) among the {@code topK} largest logits (0: all), seeded. */
    public static Sampler sampling(double temperature, int topK, long seed) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be a positive number, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("--top-k must be 0 (all tokens) or positive, got " + topK);
        return new Sampler(false, temperature, topK, seed);
    }

    public boolean isGreedy() { return greedy; }

    /** This sampler's settings for another request (its own seed). */
    public Sampler forRequest(long seed) { return greedy ? this : new Sampler(false, temperature, topK, seed); }

    public int next(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (greedy) return best;
        int k = topK == 0 || topK > logits.length ? logits.length : topK;
        // the k largest, by selection (k is small next to the vocabulary in practice)
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        double[] p = new double[k];
        double sum = 0;
        for (int i = 0; i < k; i++) sum += p[i] = Math.exp((logits[order[i]] - logits[best]) / temperature);
        double u = random.nextDouble() * sum;
        for (int i = 0; i < k; i++) {
            u -= p[i];
            if (u < 0) return order[i];
        }
        return order[k - 1];
    }
}
