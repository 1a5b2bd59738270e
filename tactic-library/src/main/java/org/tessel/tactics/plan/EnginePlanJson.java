package org.tessel.tactics.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/**
 * The JSON form of an {@link EnginePlan}: what {@code tessel search --plan-out}, {@code tessel build --plan},
 * engine files and {@code tessel inspect --json} share. Reading checks every key and value and names
 * the source and the entry that is wrong. Unpriced times are written as null.
 */
public final class EnginePlanJson {
    private EnginePlanJson() {}

    /** Format version of the plan's JSON this Tessel writes: 2 added horizontal merges ({@code merges}), 3 INT8 scales ({@code quantization}). */
    public static final int VERSION = 3;

    /** The oldest version read: version 1 plans (no merges) read as plans without merges. */
    public static final int OLDEST = 1;

    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Reading refuses a key given twice in one object (JSON would keep the last silently). */
    private static final ObjectMapper READER = new ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private static final java.util.Set<String> ROOT_KEYS = java.util.Set.of("plan_version", "model", "strategy", "target", "seed", "merges", "groups", "nodes",
            "conversions", "predicted_us", "bound_us", "quantization");
    private static final java.util.Set<String> QUANT_KEYS = java.util.Set.of("calibrator", "format", "scales", "fallbacks", "weights");
    private static final java.util.Set<String> MERGE_KEYS = java.util.Set.of("kind", "chains", "merged", "split");
    private static final java.util.Set<String> GROUP_KEYS = java.util.Set.of("name", "kind", "members");
    private static final java.util.Set<String> NODE_KEYS = java.util.Set.of("node", "op", "tactic", "variant", "precision", "layout", "stream", "predicted_us");
    private static final java.util.Set<String> CONVERSION_KEYS = java.util.Set.of("value", "producer", "consumer", "from", "from_layout", "to", "to_layout", "predicted_us");

    /** Refuses a key a plan does not have (a typo would otherwise be ignored), naming it and the keys there are. */
    private static void onlyKeys(JsonNode o, java.util.Set<String> known, String where) {
        for (java.util.Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) throw new PlanException(where + ": unknown key '" + k + "' (keys: " + String.join(", ", new java.util.TreeSet<>(known)) + ")");
        }
    }

    public static String write(EnginePlan p) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("plan_version", VERSION);
        root.put("model", p.model());
        root.put("strategy", p.strategy());
        root.put("target", p.target());
        root.put("seed", p.seed());
        num(root, "predicted_us", p.predictedUs());
        num(root, "bound_us", p.boundUs());
        ArrayNode merges = root.putArray("merges");
        for (PlannedMerge m : p.merges()) {
            ObjectNode o = merges.addObject();
            o.put("kind", m.kind());
            ArrayNode cs = o.putArray("chains");
            for (List<String> c : m.chains()) {
                ArrayNode a = cs.addArray();
                c.forEach(a::add);
            }
            ArrayNode mg = o.putArray("merged");
            m.merged().forEach(mg::add);
            o.put("split", m.split());
        }
        ArrayNode groups = root.putArray("groups");
        for (FusedGroup g : p.groups()) {
            ObjectNode o = groups.addObject();
            o.put("name", g.name());
            o.put("kind", g.kind());
            ArrayNode ms = o.putArray("members");
            g.members().forEach(ms::add);
        }
        ArrayNode nodes = root.putArray("nodes");
        for (PlannedNode n : p.nodes()) {
            ObjectNode o = nodes.addObject();
            o.put("node", n.node());
            o.put("op", n.op());
            o.put("tactic", n.tacticId());
            if (!n.variant().isEmpty()) o.put("variant", n.variant());
            o.put("precision", n.precision().text());
            o.put("layout", n.layout().text());
            o.put("stream", n.stream());
            num(o, "predicted_us", n.predictedUs());
        }
        ArrayNode convs = root.putArray("conversions");
        for (Conversion c : p.conversions()) {
            ObjectNode o = convs.addObject();
            o.put("value", c.value());
            o.put("producer", c.producer());
            o.put("consumer", c.consumer());
            o.put("from", c.from().text());
            o.put("from_layout", c.fromLayout().text());
            o.put("to", c.to().text());
            o.put("to_layout", c.toLayout().text());
            num(o, "predicted_us", c.predictedUs());
        }
        QuantizationTable q = p.quantization();
        if (!q.isEmpty()) {
            ObjectNode o = root.putObject("quantization");
            o.put("calibrator", q.calibrator());
            if (q.format() != Precision.INT8) o.put("format", q.format().text()); // absent: int8, as plans before FP8 have it
            ObjectNode sc = o.putObject("scales");
            // written as a float (its shortest decimal), so the scale read back is the same float
            for (var e : q.scales().entrySet()) sc.put(e.getKey(), e.getValue());
            ObjectNode fb = o.putObject("fallbacks");
            for (var e : q.fallbacks().entrySet()) fb.put(e.getKey(), e.getValue());
            if (!q.weights().isEmpty()) {
                ObjectNode ws = o.putObject("weights");
                for (var e : q.weights().entrySet()) {
                    var arr = ws.putArray(e.getKey());
                    for (float f : e.getValue()) arr.add(f);
                }
            }
        }
        try {
            return MAPPER.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void num(ObjectNode o, String key, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) o.putNull(key);
        else o.put(key, v);
    }

    /** Parses a plan; {@code source} (a file name) prefixes every error. */
    public static EnginePlan read(String json, String source) {
        JsonNode root;
        try {
            root = READER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new PlanException(source + ": not a JSON plan: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")"));
        }
        if (root == null || !root.isObject()) throw new PlanException(source + ": a plan is a JSON object");
        String where = source;
        onlyKeys(root, ROOT_KEYS, where);
        int version = integer(root, "plan_version", where);
        if (version < OLDEST || version > VERSION)
            throw new PlanException(source + ": plan_version " + version + " is not supported (this Tessel reads versions " + OLDEST + " to " + VERSION + ")");
        List<PlannedMerge> merges = new ArrayList<>();
        if (root.has("merges")) {
            if (version < 2) throw new PlanException(source + ": 'merges' needs plan_version 2 or later (the file says " + version + ")");
            JsonNode ms = array(root, "merges", where);
            for (int i = 0; i < ms.size(); i++) {
                String w = where + ": merges[" + i + "]";
                JsonNode m = object(ms.get(i), w);
                onlyKeys(m, MERGE_KEYS, w);
                JsonNode cs = array(m, "chains", w);
                List<List<String>> chains = new ArrayList<>();
                for (int c = 0; c < cs.size(); c++) chains.add(names(cs.get(c), w + ".chains[" + c + "]"));
                try {
                    merges.add(new PlannedMerge(text(m, "kind", w), chains, names(array(m, "merged", w), w + ".merged"), text(m, "split", w)));
                } catch (IllegalArgumentException e) {
                    throw new PlanException(w + ": " + e.getMessage());
                }
            }
        }
        List<FusedGroup> groups = new ArrayList<>();
        JsonNode gs = array(root, "groups", where);
        for (int i = 0; i < gs.size(); i++) {
            String w = where + ": groups[" + i + "]";
            JsonNode g = object(gs.get(i), w);
            onlyKeys(g, GROUP_KEYS, w);
            JsonNode ms = array(g, "members", w);
            List<String> members = new ArrayList<>();
            for (int k = 0; k < ms.size(); k++) {
                if (!ms.get(k).isTextual()) throw new PlanException(w + ".members[" + k + "] must be a node name (a string)");
                members.add(ms.get(k).asText());
            }
            try {
                groups.add(new FusedGroup(text(g, "name", w), text(g, "kind", w), members));
            } catch (IllegalArgumentException e) {
                throw new PlanException(w + ": " + e.getMessage());
            }
        }
        List<PlannedNode> nodes = new ArrayList<>();
        JsonNode ns = array(root, "nodes", where);
        for (int i = 0; i < ns.size(); i++) {
            JsonNode n = object(ns.get(i), where + ": nodes[" + i + "]");
            String name = text(n, "node", where + ": nodes[" + i + "]");
            String w = where + ": node '" + name + "'";
            onlyKeys(n, NODE_KEYS, w);
            nodes.add(new PlannedNode(name, text(n, "op", w), text(n, "tactic", w), n.has("variant") ? text(n, "variant", w) : "",
                    precision(text(n, "precision", w), w), layout(text(n, "layout", w), w), n.has("stream") ? integer(n, "stream", w) : 0, number(n, "predicted_us", w)));
            if (nodes.getLast().stream() < 0) throw new PlanException(w + ": stream must be >= 0");
        }
        List<Conversion> convs = new ArrayList<>();
        JsonNode cs = root.has("conversions") ? array(root, "conversions", where) : MAPPER.createArrayNode();
        for (int i = 0; i < cs.size(); i++) {
            String w = where + ": conversions[" + i + "]";
            JsonNode c = object(cs.get(i), w);
            onlyKeys(c, CONVERSION_KEYS, w);
            convs.add(new Conversion(text(c, "value", w), c.has("producer") ? text(c, "producer", w) : "", c.has("consumer") ? text(c, "consumer", w) : "",
                    dtype(text(c, "from", w), w + ".from"), layout(text(c, "from_layout", w), w), dtype(text(c, "to", w), w + ".to"), layout(text(c, "to_layout", w), w),
                    number(c, "predicted_us", w)));
        }
        QuantizationTable quant = QuantizationTable.EMPTY;
        if (root.has("quantization")) {
            if (version < 3) throw new PlanException(source + ": 'quantization' needs plan_version 3 or later (the file says " + version + ")");
            String w = where + ": quantization";
            JsonNode q = object(root.get("quantization"), w);
            onlyKeys(q, QUANT_KEYS, w);
            java.util.Map<String, Float> scales = new java.util.LinkedHashMap<>();
            JsonNode sc = object(q.get("scales"), w + ".scales");
            for (var it = sc.fields(); it.hasNext(); ) {
                var e = it.next();
                if (!e.getValue().isNumber()) throw new PlanException(w + ".scales: tensor '" + e.getKey() + "': a scale is a number, got " + e.getValue());
                scales.put(e.getKey(), (float) e.getValue().asDouble());
            }
            java.util.Map<String, String> fallbacks = new java.util.LinkedHashMap<>();
            if (q.has("fallbacks")) {
                JsonNode fb = object(q.get("fallbacks"), w + ".fallbacks");
                for (var it = fb.fields(); it.hasNext(); ) {
                    var e = it.next();
                    if (!e.getValue().isTextual()) throw new PlanException(w + ".fallbacks: node '" + e.getKey() + "': the reason must be a string, got " + e.getValue());
                    fallbacks.put(e.getKey(), e.getValue().asText());
                }
            }
            java.util.Map<String, float[]> weights = new java.util.LinkedHashMap<>();
            if (q.has("weights")) {
                JsonNode ws = object(q.get("weights"), w + ".weights");
                for (var it = ws.fields(); it.hasNext(); ) {
                    var e = it.next();
                    if (!e.getValue().isArray()) throw new PlanException(w + ".weights: weight '" + e.getKey() + "': channel scales are an array of numbers, got " + e.getValue());
                    float[] v = new float[e.getValue().size()];
                    for (int i = 0; i < v.length; i++) {
                        JsonNode x = e.getValue().get(i);
                        if (!x.isNumber()) throw new PlanException(w + ".weights: weight '" + e.getKey() + "', channel " + i + ": a scale is a number, got " + x);
                        v[i] = (float) x.asDouble();
                    }
                    weights.put(e.getKey(), v);
                }
            }
            String calibrator = text(q, "calibrator", w);
            Precision format = Precision.INT8;
            if (q.has("format")) {
                String f = text(q, "format", w);
                format = Precision.fromText(f).filter(Precision::quantized)
                        .orElseThrow(() -> new PlanException(w + ".format: '" + f + "' is not a quantized precision (int8, fp8)"));
            }
            try {
                quant = new QuantizationTable(calibrator, scales, fallbacks, format, weights);
            } catch (PlanException e) {
                throw new PlanException(w + ": " + e.getMessage());
            }
        }
        try {
            return new EnginePlan(text(root, "model", where), text(root, "strategy", where), text(root, "target", where), root.has("seed") ? root.get("seed").asLong() : 0,
                    merges, groups, nodes, convs, number(root, "predicted_us", where), number(root, "bound_us", where), quant);
        } catch (PlanException e) {
            throw new PlanException(source + ": " + e.getMessage());
        }
    }

    /** An array of node names. */
    private static List<String> names(JsonNode a, String where) {
        if (a == null || !a.isArray()) throw new PlanException(where + " must be an array of node names");
        List<String> out = new ArrayList<>();
        for (int k = 0; k < a.size(); k++) {
            if (!a.get(k).isTextual()) throw new PlanException(where + "[" + k + "] must be a node name (a string)");
            out.add(a.get(k).asText());
        }
        return out;
    }

    private static JsonNode object(JsonNode n, String where) {
        if (n == null || !n.isObject()) throw new PlanException(where + " must be a JSON object");
        return n;
    }

    private static JsonNode array(JsonNode o, String key, String where) {
        JsonNode n = o.get(key);
        if (n == null) throw new PlanException(where + ": missing key '" + key + "'");
        if (!n.isArray()) throw new PlanException(where + ": '" + key + "' must be an array");
        return n;
    }

    private static String text(JsonNode o, String key, String where) {
        JsonNode n = o.get(key);
        if (n == null) throw new PlanException(where + ": missing key '" + key + "'");
        if (!n.isTextual()) throw new PlanException(where + ": '" + key + "' must be a string, got " + n);
        return n.asText();
    }

    private static int integer(JsonNode o, String key, String where) {
        JsonNode n = o.get(key);
        if (n == null) throw new PlanException(where + ": missing key '" + key + "'");
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw new PlanException(where + ": '" + key + "' must be an integer, got " + n);
        return n.asInt();
    }

    private static double number(JsonNode o, String key, String where) {
        JsonNode n = o.get(key);
        if (n == null || n.isNull()) return Double.NaN;
        if (!n.isNumber()) throw new PlanException(where + ": '" + key + "' must be a number or null, got " + n);
        return n.asDouble();
    }

    private static Precision precision(String s, String where) {
        return Precision.fromText(s).orElseThrow(() -> new PlanException(where + ": unknown precision '" + s + "' (fp32, tf32, fp16, bf16, int8, fp8)"));
    }

    private static Layout layout(String s, String where) {
        return Layout.fromText(s).orElseThrow(() -> new PlanException(where + ": unknown layout '" + s + "' (any, nchw, nhwc)"));
    }

    private static DType dtype(String s, String where) {
        for (DType d : DType.values()) if (d.text().equals(s)) return d;
        throw new PlanException(where + ": unknown element type '" + s + "'");
    }
}
