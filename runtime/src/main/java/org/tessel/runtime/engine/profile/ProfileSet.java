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
import org.tessel.runtime.engine.EngineFormatException;
import org.tessel.runtime.engine.EngineRunException;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.EnginePlanJson;
import org.tessel.tactics.plan.PlanException;

/**
 * What an engine built for optimization profiles knows, whatever its backend: the source model, the
 * preparation pipeline, the profiles, one plan per profile (solved at its opt shapes, checked at min
 * and max), the device memory each profile's max shapes need, and whether each profile's prepared
 * graph depends on the shapes. It checks a run's shapes, picks the profile that holds them and makes
 * the planned graph for them; the CPU {@link ProfileEngine} and the GPU profile engine
 * ({@code org.tessel.runtime.gpu.engine.GpuProfileEngine}) each build their engine from that graph.
 *
 * <p>In an engine file these are three kinds of named blobs: {@value #META_SOURCE}, the source model
 * with its symbolic dimensions; {@value #META_PROFILES}, the profiles as JSON; and
 * {@code meta/profiles/K/plan}, profile K's plan.
 *
 * <p>Where the build found a profile's prepared graph the same at min, opt and max but for types (no
 * constant computed from a shape), a new shape is that graph (made once per profile) re-typed by
 * shape inference, then the plan; otherwise a new import ({@link ShapeSpecializer}: import, the stored
 * pipeline, the plan).
 */
public final class ProfileSet {
    /** The source ONNX model among the engine file's named blobs. */
    public static final String META_SOURCE = "meta/source.onnx";
    /** The profiles' JSON among the engine file's named blobs. */
    public static final String META_PROFILES = "meta/profiles";
    private static final int FORMAT = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Device memory a profile's max shapes need: the activation arena and (GPU engines) the workspace; bytes. */
    public record Memory(long arenaBytes, long workspaceBytes) {}

    private final ShapeSpecializer source;
    private final String pipeline;
    private final List<OptimizationProfile> profiles;
    private final List<EnginePlan> plans;
    private final List<Memory> memory;
    /** Per profile: null when its preparation does not depend on shapes (new shapes are inferred), else why it does (new shapes are imported). */
    private final List<String> shapeDependence;
    /** Per profile: its prepared graph at opt, made on first need when the profile is shape-generic. */
    private final Graph[] prepared;

    /**
     * The profiles of a build: per profile its plan, the memory at its max shapes and null when its
     * prepared graph does not depend on the shapes ({@link ShapeSpecializer#shapeDependence}), else why.
     */
    public ProfileSet(ShapeSpecializer source, String pipeline, List<OptimizationProfile> profiles, List<EnginePlan> plans, List<Memory> memory, List<String> shapeDependence) {
        if (profiles.isEmpty() || profiles.size() != plans.size() || profiles.size() != memory.size() || profiles.size() != shapeDependence.size())
            throw new IllegalArgumentException(profiles.size() + " profiles, " + plans.size() + " plans, " + memory.size() + " memory sizes, " + shapeDependence.size() + " dependences");
        this.source = source;
        this.pipeline = pipeline;
        this.profiles = List.copyOf(profiles);
        this.plans = List.copyOf(plans);
        this.memory = List.copyOf(memory);
        this.shapeDependence = new ArrayList<>(shapeDependence);
        this.prepared = new Graph[profiles.size()];
    }

    /** These profiles with the device memory measured at each profile's max shapes (the build measures it once the plans are final). */
    public ProfileSet withMemory(List<Memory> measured) {
        return new ProfileSet(source, pipeline, profiles, plans, measured, shapeDependence);
    }

    /** True when an engine file's named blobs carry profiles. */
    public static boolean in(Map<String, byte[]> blobs) { return blobs.containsKey(META_PROFILES); }

    /** The named blobs that store these profiles in an engine file. */
    public Map<String, byte[]> blobs() {
        ObjectNode root = JSON.createObjectNode().put("format", FORMAT).put("source", source.name()).put("pipeline", pipeline);
        ArrayNode ps = root.putArray("profiles");
        Map<String, byte[]> blobs = new LinkedHashMap<>();
        for (int k = 0; k < profiles.size(); k++) {
            ObjectNode p = ps.addObject().put("max_arena_bytes", memory.get(k).arenaBytes()).put("max_workspace_bytes", memory.get(k).workspaceBytes());
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
        return blobs;
    }

    private static String planKey(int k) { return META_PROFILES + "/" + k + "/plan"; }

    private static void dims(ArrayNode a, Shape s) { for (int d : s.dims()) a.add(d); }

    /** The profiles in an engine file's named blobs; blobs that do not read are refused naming {@code file}. */
    public static ProfileSet read(Map<String, byte[]> k, String file) {
        if (!k.containsKey(META_PROFILES)) throw new EngineFormatException(file + ": not built with optimization profiles");
        if (!k.containsKey(META_SOURCE)) throw new EngineFormatException(file + ": has profiles but no source model (" + META_SOURCE + ")");
        try {
            JsonNode root = JSON.readTree(new String(k.get(META_PROFILES), StandardCharsets.UTF_8));
            if (root.path("format").asInt() != FORMAT)
                throw new EngineFormatException(file + ": profile format " + root.path("format") + ", this Tessel reads format " + FORMAT + "; rebuild the engine");
            String pipeline = text(root, "pipeline", file);
            List<OptimizationProfile> profiles = new ArrayList<>();
            List<EnginePlan> plans = new ArrayList<>();
            List<Memory> memory = new ArrayList<>();
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
                memory.add(new Memory(p.path("max_arena_bytes").asLong(), p.path("max_workspace_bytes").asLong()));
                if (!p.path("shape_generic").isBoolean()) throw new EngineFormatException(file + ": profile " + i + " does not say whether it is shape-generic");
                dependence.add(p.path("shape_generic").asBoolean() ? null : p.path("shape_dependence").asText("(not recorded)"));
                byte[] plan = k.get(planKey(i));
                if (plan == null) throw new EngineFormatException(file + ": profile " + i + " has no plan (" + planKey(i) + ")");
                plans.add(EnginePlanJson.read(new String(plan, StandardCharsets.UTF_8), file + " (" + planKey(i) + ")"));
            }
            ShapeSpecializer source = new ShapeSpecializer(ModelProto.parseFrom(k.get(META_SOURCE)), text(root, "source", file));
            return new ProfileSet(source, pipeline, profiles, plans, memory, dependence);
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
    /** The device memory the profile's max shapes need. */
    public Memory maxMemory(int profile) { return memory.get(profile); }
    public ShapeSpecializer source() { return source; }
    public String sourceName() { return source.name(); }
    public String pipeline() { return pipeline; }
    /** Null when profile k's new shapes are made by shape inference on its prepared graph; else why they are imported again. */
    public String shapeDependence(int profile) { return shapeDependence.get(profile); }

    /**
     * The profile that holds these shapes: they are checked against the source model first (names,
     * ranks, fixed sizes, one size per symbolic dimension, every symbolic input given), then the first
     * profile whose ranges hold them is picked; a refusal names the input and dimension, or lists every profile.
     */
    public int profileOf(Map<String, Shape> shapes) {
        String what = "shape " + OptimizationProfile.text(shapes);
        try {
            source.sizes(shapes, what);
        } catch (IllegalArgumentException e) {
            throw new EngineRunException(e.getMessage());
        }
        for (int i = 0; i < profiles.size(); i++) if (profiles.get(i).contains(shapes)) return i;
        StringBuilder sb = new StringBuilder(what + " is outside every profile of this engine:");
        for (int i = 0; i < profiles.size(); i++) {
            sb.append(" profile ").append(i).append(" (").append(profiles.get(i)).append(")").append(i + 1 < profiles.size() ? ";" : "");
        }
        String outside = outside(shapes);
        throw new EngineRunException(sb.append(outside.isEmpty() ? "" : "; " + outside).append("; rebuild with a profile that holds it").toString());
    }

    /** Where the shapes leave each profile: "input 'x' dimension 0 = 80 is outside 1..64 in profile 0". */
    private String outside(Map<String, Shape> shapes) {
        List<String> out = new ArrayList<>();
        for (int k = 0; k < profiles.size(); k++)
            for (var e : profiles.get(k).inputs().entrySet()) {
                Shape s = shapes.get(e.getKey());
                if (s == null || s.rank() != e.getValue().min().rank()) continue;
                for (int i = 0; i < s.rank(); i++)
                    if (s.dim(i) < e.getValue().min().dim(i) || s.dim(i) > e.getValue().max().dim(i)) {
                        out.add("input '" + e.getKey() + "' dimension " + i + " = " + s.dim(i) + " is outside " + e.getValue().min().dim(i) + ".." + e.getValue().max().dim(i)
                                + " in profile " + k);
                        break;
                    }
            }
        return String.join(", ", out);
    }

    /**
     * The planned graph for a run's shapes (a profile's prepared graph re-typed, or a new import and
     * preparation, then the profile's plan), its profile, and what it cost: the steps, and
     * {@code preparedMs}, the one-off making of the profile's prepared graph when this call made it.
     */
    public record Planned(ShapeSpecializer.Planned planned, int profile, double preparedMs) {}

    /** The planned graph for these shapes, in the profile that holds them; shapes outside every profile are refused. */
    public Planned plan(Map<String, Shape> shapes) { return planIn(profileOf(shapes), shapes); }

    /** The planned graph for these shapes in profile {@code k} (they must lie inside it: the build's min and max, or a checked run's shapes). */
    public synchronized Planned planIn(int k, Map<String, Shape> shapes) {
        String what = "shape " + OptimizationProfile.text(shapes);
        double preparedMs = 0;
        try {
            if (shapeDependence.get(k) == null) {
                if (prepared[k] == null) {
                    long t0 = System.nanoTime();
                    prepared[k] = source.prepareAt(profiles.get(k).at(OptimizationProfile.Point.OPT), pipeline, "profile " + k + " opt shapes");
                    preparedMs = (System.nanoTime() - t0) / 1e6;
                }
                return new Planned(source.planByInference(prepared[k], shapes, plans.get(k), what + " (profile " + k + ")"), k, preparedMs);
            }
            return new Planned(source.planByImport(shapes, pipeline, plans.get(k), what + " (profile " + k + ")"), k, 0);
        } catch (IllegalArgumentException | org.tessel.ir.IrException e) {
            throw new EngineRunException(e.getMessage().startsWith(what) ? e.getMessage() : what + " (profile " + k + "): " + e.getMessage());
        }
    }
}
