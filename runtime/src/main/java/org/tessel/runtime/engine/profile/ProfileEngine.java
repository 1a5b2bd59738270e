package org.tessel.runtime.engine.profile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Shape;
import org.tessel.ir.Graph;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineFormatException;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.PlanException;

/**
 * A CPU engine built for optimization profiles: any input shape inside one of its profiles runs
 * without a new search. The engine file is an ordinary CPU engine file (its graph, layers and plan
 * are the first profile's at its opt shapes, so {@code tessel inspect} shows them) with three more
 * named blobs: {@value #META_SOURCE}, the source model with its symbolic dimensions; {@value
 * #META_PROFILES}, the profiles, the preparation pipeline and the activation memory at each
 * profile's max shapes; and {@code meta/profiles/K/plan}, profile K's plan, solved at its opt
 * shapes and checked at min and max.
 *
 * <p>The source model is kept because the IR's shapes are static: a symbolic dimension gets its
 * size at import, and the importer folds shape arithmetic into constants of that size. Where the
 * build found a profile's prepared graph the same at min, opt and max but for types (no constant
 * computed from a shape), a new shape is that graph re-typed by shape inference, then the plan and
 * a CPU engine; otherwise it is a new import ({@link ShapeSpecializer}: import, the stored
 * pipeline, the profile's plan, a CPU engine). Specialized engines are kept in a cache
 * of the {@value #CACHE_SIZE} shapes used last (least recently used goes first); a shape in the
 * cache runs at once, a new one pays the specialization, which {@link #specialise} reports.
 */
public final class ProfileEngine {
    /** The source ONNX model among the engine file's named blobs. */
    public static final String META_SOURCE = "meta/source.onnx";
    /** The profiles' JSON among the engine file's named blobs. */
    public static final String META_PROFILES = "meta/profiles";
    /** How many specialized engines are kept (least recently used evicted first). */
    public static final int CACHE_SIZE = 8;
    private static final int FORMAT = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Engine base;
    private final ShapeSpecializer source;
    private final String pipeline;
    private final List<OptimizationProfile> profiles;
    private final List<EnginePlan> plans;
    private final List<Long> maxArenaBytes;
    /** Per profile: null when its preparation does not depend on shapes (new shapes are inferred), else why it does (new shapes are imported). */
    private final List<String> shapeDependence;
    /** Per profile: its prepared graph at opt, made on first need when the profile is shape-generic. */
    private final Graph[] prepared;
    private final Map<Map<String, Shape>, Engine> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<Map<String, Shape>, Engine> eldest) { return size() > CACHE_SIZE; }
    };

    private ProfileEngine(Engine base, ShapeSpecializer source, String pipeline, List<OptimizationProfile> profiles, List<EnginePlan> plans, List<Long> maxArenaBytes,
                          List<String> shapeDependence) {
        this.base = base;
        this.source = source;
        this.pipeline = pipeline;
        this.profiles = List.copyOf(profiles);
        this.plans = List.copyOf(plans);
        this.maxArenaBytes = List.copyOf(maxArenaBytes);
        this.shapeDependence = new ArrayList<>(shapeDependence);
        this.prepared = new Graph[profiles.size()];
        cache.put(profiles.getFirst().at(OptimizationProfile.Point.OPT), base);
    }

    /** True when the engine was built with profiles (its file carries them). */
    public static boolean hasProfiles(Engine e) { return e.kernels().containsKey(META_PROFILES); }

    /**
     * The engine to save: {@code base} (the first profile's engine at its opt shapes) with the source
     * model, the profiles, their plans, the activation memory at their max shapes and, per profile,
     * null when its prepared graph does not depend on the shapes ({@link ShapeSpecializer#shapeDependence}), else why.
     */
    public static Engine attach(Engine base, ShapeSpecializer source, String pipeline, List<OptimizationProfile> profiles, List<EnginePlan> plans, List<Long> maxArenaBytes,
                                List<String> shapeDependence) {
        if (profiles.size() != plans.size() || profiles.size() != maxArenaBytes.size() || profiles.size() != shapeDependence.size())
            throw new IllegalArgumentException(profiles.size() + " profiles, " + plans.size() + " plans, " + maxArenaBytes.size() + " memory sizes");
        ObjectNode root = JSON.createObjectNode().put("format", FORMAT).put("source", source.name()).put("pipeline", pipeline);
        ArrayNode ps = root.putArray("profiles");
        Map<String, byte[]> blobs = new LinkedHashMap<>();
        for (int k = 0; k < profiles.size(); k++) {
            ObjectNode p = ps.addObject().put("max_arena_bytes", maxArenaBytes.get(k));
            if (shapeDependence.get(k) == null) p.put("shape_generic", true);
            else p.put("shape_generic", false).put("shape_dependence", shapeDependence.get(k));
            ObjectNode ins = p.putObject("inputs");
            for (var e : profiles.get(k).inputs().entrySet()) {
                ObjectNode r = ins.putObject(e.getKey());
                dims(r.putArray("min"), e.getValue().min());
                dims(r.putArray("opt"), e.getValue().opt());
                dims(r.putArray("max"), e.getValue().max());
            }
            blobs.put(planKey(k), EnginePlanJson.write(plans.get(k)).getBytes(StandardCharsets.UTF_8));
        }
        blobs.put(META_PROFILES, root.toString().getBytes(StandardCharsets.UTF_8));
        blobs.put(META_SOURCE, source.model().toByteArray());
        return base.withBlobs(blobs);
    }

    private static String planKey(int k) { return META_PROFILES + "/" + k + "/plan"; }

    private static void dims(ArrayNode a, Shape s) { for (int d : s.dims()) a.add(d); }

    /** The profiles of an engine read from {@code file}; a file whose profile blobs do not read is refused naming it. */
    public static ProfileEngine of(Engine e, String file) {
        Map<String, byte[]> k = e.kernels();
        if (!k.containsKey(META_PROFILES)) throw new EngineFormatException(file + ": not built with optimization profiles");
        if (!k.containsKey(META_SOURCE)) throw new EngineFormatException(file + ": has profiles but no source model (" + META_SOURCE + ")");
        try {
            JsonNode root = JSON.readTree(new String(k.get(META_PROFILES), StandardCharsets.UTF_8));
            if (root.path("format").asInt() != FORMAT)
                throw new EngineFormatException(file + ": profile format " + root.path("format") + ", this Tessel reads format " + FORMAT + "; rebuild the engine");
            String pipeline = text(root, "pipeline", file);
            List<OptimizationProfile> profiles = new ArrayList<>();
            List<EnginePlan> plans = new ArrayList<>();
            List<Long> arena = new ArrayList<>();
            List<String> dependence = new ArrayList<>();
            JsonNode ps = root.path("profiles");
            if (!ps.isArray() || ps.isEmpty()) throw new EngineFormatException(file + ": " + META_PROFILES + " lists no profiles");
            for (int i = 0; i < ps.size(); i++) {
                JsonNode p = ps.get(i);
                Map<String, Shape> min = new LinkedHashMap<>(), opt = new LinkedHashMap<>(), max = new LinkedHashMap<>();
                for (var it = p.path("inputs").properties().iterator(); it.hasNext(); ) {
                    var in = it.next();
                    min.put(in.getKey(), shape(in.getValue().path("min"), file));
                    opt.put(in.getKey(), shape(in.getValue().path("opt"), file));
                    max.put(in.getKey(), shape(in.getValue().path("max"), file));
                }
                try {
                    profiles.add(OptimizationProfile.of(i, min, opt, max));
                } catch (IllegalArgumentException x) {
                    throw new EngineFormatException(file + ": " + x.getMessage());
                }
                arena.add(p.path("max_arena_bytes").asLong());
                if (!p.path("shape_generic").isBoolean()) throw new EngineFormatException(file + ": profile " + i + " does not say whether it is shape-generic");
                dependence.add(p.path("shape_generic").asBoolean() ? null : p.path("shape_dependence").asText("(not recorded)"));
                byte[] plan = k.get(planKey(i));
                if (plan == null) throw new EngineFormatException(file + ": profile " + i + " has no plan (" + planKey(i) + ")");
                plans.add(EnginePlanJson.read(new String(plan, StandardCharsets.UTF_8), file + " (" + planKey(i) + ")"));
            }
            ShapeSpecializer source = new ShapeSpecializer(ModelProto.parseFrom(k.get(META_SOURCE)), text(root, "source", file));
            return new ProfileEngine(e, source, pipeline, profiles, plans, arena, dependence);
        } catch (IOException | PlanException x) {
            throw new EngineFormatException(file + ": the profiles do not read: " + x.getMessage(), x);
        }
    }

    private static String text(JsonNode root, String key, String file) {
        JsonNode n = root.get(key);
        if (n == null || !n.isTextual()) throw new EngineFormatException(file + ": " + META_PROFILES + " has no '" + key + "'");
        return n.asText();
    }

    private static Shape shape(JsonNode a, String file) {
        if (!a.isArray()) throw new EngineFormatException(file + ": a profile shape is not a list of sizes");
        int[] d = new int[a.size()];
        for (int i = 0; i < d.length; i++) d[i] = a.get(i).asInt();
        return Shape.of(d);
    }

    public List<OptimizationProfile> profiles() { return profiles; }
    public EnginePlan plan(int profile) { return plans.get(profile); }
    /** The activation memory the profile's max shapes need (the memory plan of the engine at max). */
    public long maxArenaBytes(int profile) { return maxArenaBytes.get(profile); }
    public Engine base() { return base; }
    public String sourceName() { return source.name(); }
    /** Null when profile k's new shapes are made by shape inference on its prepared graph; else why they are imported again. */
    public String shapeDependence(int profile) { return shapeDependence.get(profile); }

    /** The first profile whose ranges hold these shapes, or a refusal listing the profiles. */
    public int profileOf(Map<String, Shape> shapes) {
        for (int i = 0; i < profiles.size(); i++) if (profiles.get(i).contains(shapes)) return i;
        StringBuilder sb = new StringBuilder("shape " + OptimizationProfile.text(shapes) + " is outside every profile of this engine:");
        for (int i = 0; i < profiles.size(); i++) sb.append(" profile ").append(i).append(" (").append(profiles.get(i)).append(")").append(i + 1 < profiles.size() ? ";" : "");
        throw new EngineRunException(sb.append("; rebuild with a profile that holds it").toString());
    }

    /**
     * An engine for these shapes, and what making it cost (null when it came from the cache);
     * {@code preparedMs} is the one-off making of the profile's prepared graph, when this call made it.
     */
    public record Specialisation(Engine engine, int profile, boolean cached, ShapeSpecializer.Specialised cost, double preparedMs) {}

    /**
     * The engine for these input shapes: from the cache, or made by specialising the source model and
     * applying the holding profile's plan (no search). Shapes outside every profile are refused.
     */
    public synchronized Specialisation specialise(Map<String, Shape> shapes) {
        String what = "shape " + OptimizationProfile.text(shapes);
        try {
            source.sizes(shapes, what); // names, ranks, fixed sizes, one size per symbolic dimension, every symbolic input given
        } catch (IllegalArgumentException e) {
            throw new EngineRunException(e.getMessage());
        }
        int k = profileOf(shapes);
        // the cache key holds every input's shape, the static ones too, so equal runs find one engine
        Map<String, Shape> key = new LinkedHashMap<>(shapes);
        Engine hit = cache.get(key);
        if (hit != null) return new Specialisation(hit, k, true, null, 0);
        ShapeSpecializer.Specialised s;
        double preparedMs = 0;
        try {
            if (shapeDependence.get(k) == null) {
                if (prepared[k] == null) {
                    long t0 = System.nanoTime();
                    prepared[k] = source.prepareAt(profiles.get(k).at(OptimizationProfile.Point.OPT), pipeline, "profile " + k + " opt shapes");
                    preparedMs = (System.nanoTime() - t0) / 1e6;
                }
                s = source.specialiseByInference(prepared[k], shapes, plans.get(k), what + " (profile " + k + ")");
            } else {
                s = source.specialise(shapes, pipeline, plans.get(k), what + " (profile " + k + ")");
            }
        } catch (IllegalArgumentException | org.tessel.ir.IrException e) {
            throw new EngineRunException(e.getMessage().startsWith(what) ? e.getMessage() : what + " (profile " + k + "): " + e.getMessage());
        }
        cache.put(key, s.engine());
        return new Specialisation(s.engine(), k, false, s, preparedMs);
    }

    /** How many specialized engines the cache holds now. */
    public synchronized int cached() { return cache.size(); }
}
