package org.tessel.runtime.engine.profile;

import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineFormatException;

/**
 * A CPU engine built for optimization profiles: any input shape inside one of its profiles runs
 * without a new search. The engine file is an ordinary CPU engine file (its graph, layers and plan
 * are the first profile's at its opt shapes, so {@code tessel inspect} shows them) with the
 * {@link ProfileSet}'s named blobs: the source model, the profiles and their plans.
 *
 * <p>A new shape is checked and planned by the {@link ProfileSet} (the profile's prepared graph
 * re-typed, or a new import) and built as a CPU engine. Specialized engines are kept in a
 * {@link ShapeCache} of the {@value #CACHE_SIZE} shapes used last; a shape in the cache runs at once,
 * a new one pays the specialization, which {@link #specialise} reports.
 */
public final class ProfileEngine {
    /** How many specialized engines are kept (least recently used evicted first). */
    public static final int CACHE_SIZE = 8;

    private final Engine base;
    private final ProfileSet set;
    private final ShapeCache<Engine> cache = new ShapeCache<>(CACHE_SIZE, e -> {});

    private ProfileEngine(Engine base, ProfileSet set) {
        this.base = base;
        this.set = set;
        cache.put(set.profiles().getFirst().at(OptimizationProfile.Point.OPT), base);
    }

    /** True when the engine was built with profiles (its file carries them). */
    public static boolean hasProfiles(Engine e) { return ProfileSet.in(e.kernels()); }

    /** The engine to save: {@code base} (the first profile's engine at its opt shapes) with the profiles' named blobs. */
    public static Engine attach(Engine base, ProfileSet set) { return base.withBlobs(set.blobs()); }

    /** The profiles of an engine read from {@code file}; a file whose profile blobs do not read is refused naming it. */
    public static ProfileEngine of(Engine e, String file) {
        if (!hasProfiles(e)) throw new EngineFormatException(file + ": not built with optimization profiles");
        return new ProfileEngine(e, ProfileSet.read(e.kernels(), file));
    }

    public ProfileSet set() { return set; }
    public List<OptimizationProfile> profiles() { return set.profiles(); }
    public Engine base() { return base; }
    public String sourceName() { return set.sourceName(); }

    /**
     * An engine for these shapes, and what making it cost: the steps to its planned graph ({@code planned}, null when it
     * came from the cache) and the engine's build; {@code preparedMs} is the one-off making of the profile's prepared
     * graph, when this call made it.
     */
    public record Specialisation(Engine engine, int profile, boolean cached, ShapeSpecializer.Planned planned, double buildMs, double preparedMs) {
        /** "12.3 ms (shape inference 1.0, plan 0.3, engine 11.0)"; null from the cache. */
        public String cost() { return planned == null ? null : planned.describe(Map.of("engine", buildMs)); }
    }

    /**
     * The engine for these input shapes: from the cache, or made from the holding profile's planned
     * graph (no search). Shapes outside every profile are refused.
     */
    public synchronized Specialisation specialise(Map<String, Shape> shapes) {
        int k = set.profileOf(shapes);
        Engine hit = cache.get(shapes);
        if (hit != null) return new Specialisation(hit, k, true, null, 0, 0);
        ProfileSet.Planned p = set.planIn(k, shapes);
        long t0 = System.nanoTime();
        Engine e;
        try {
            e = Engine.buildCpu(p.planned().applied().graph(), p.planned().applied().plan());
        } catch (IllegalArgumentException | org.tessel.ir.IrException x) {
            throw new org.tessel.runtime.engine.EngineRunException("shape " + OptimizationProfile.text(shapes) + " (profile " + k + "): " + x.getMessage());
        }
        double buildMs = (System.nanoTime() - t0) / 1e6;
        cache.put(shapes, e);
        return new Specialisation(e, k, false, p.planned(), buildMs, p.preparedMs());
    }

    /** How many specialized engines the cache holds now. */
    public int cached() { return cache.size(); }
}
