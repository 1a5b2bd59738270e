package org.tessel.runtime.gpu.engine;

import java.util.OptionalDouble;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.tactics.Tuner;

/**
 * A {@link GpuTuner} without a GPU: it answers each question from a timing cache, keyed exactly as the measuring tuner
 * records it ({@link GpuTuner#signature}, {@link GpuTuner#reformatSignature}, {@link GpuTuner#castSignature}), and leaves
 * the rest unmeasured (the cost model prices those). So {@code tessel search --timing-cache} replays the search a GPU build
 * with {@code --tuning top-k} ran on the same cache: same questions, same answers, same plan. Counts what it could and
 * could not answer.
 */
public final class CachedTuner implements Tuner {
    private final TimingCache cache;
    private final String source;
    private int answered, unanswered;

    /** {@code source} names the cache in {@link #describe} (its file). */
    public CachedTuner(TimingCache cache, String source) {
        this.cache = cache;
        this.source = source;
    }

    @Override public Timing time(Node n, String tacticId, Precision p, Layout l) {
        String signature = GpuTuner.signature(n, tacticId, p, l);
        if (signature == null) return Timing.NOT_MEASURED; // not a question the GPU tuner measures
        OptionalDouble us = GpuTuner.fastestCached(cache, signature, tacticId);
        if (us.isEmpty()) { unanswered++; return Timing.NOT_MEASURED; }
        answered++;
        return new Timing.Measured(GpuTuner.question(n, tacticId, GpuEngine.gpuPrecision(p), l).price(us.getAsDouble(), this));
    }

    @Override public OptionalDouble reformatUs(TensorType t) {
        String signature = GpuTuner.reformatSignature(t);
        return signature == null ? OptionalDouble.empty() : GpuTuner.fastestCached(cache, signature, GpuTactics.REFORMAT);
    }

    @Override public OptionalDouble castUs(TensorType t, DType to) {
        if (t.dtype() == to) return OptionalDouble.empty();
        return GpuTuner.fastestCached(cache, GpuTuner.castSignature(t, to), GpuTactics.CAST);
    }

    /** Questions the cache answered. */
    public int answered() { return answered; }

    /** Questions a measuring build would have timed that the cache holds no answer to (priced by the cost model instead). */
    public int unanswered() { return unanswered; }

    @Override public String describe() { return "the timing cache " + source + " (" + cache.environment().gpu() + ", " + cache.size() + " entries)"; }
}
