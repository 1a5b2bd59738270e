package org.tessel.accuracy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.tessel.cost.Precision;
import org.tessel.ir.io.AtomicFiles;
import org.tessel.search.accuracy.ErrorModel;

/**
 * Measured sensitivities kept on disk, one small JSON file per fingerprint
 * ({@code DIR/<model>-<fingerprint>.json}), so a second search of the same graph on the same inputs
 * and precisions does not measure again. A file that does not parse, or whose fingerprint differs
 * from its name's, is an error naming the file and what is wrong (it is never silently ignored).
 *
 * <pre>{"format": 1, "model": "bert-tiny", "fingerprint": "...", "inputs": "2 generated input sets (seed 0)",
 *  "engines": 41, "seconds": 3.2, "nodes": {"encoder.layer.0.attention.self.query": {"fp16": {"rel_l2": 1.2e-4, "top1": null}}}}</pre>
 * An error measured as unbounded (an output overflowed) is written {@code "inf"}.
 */
public final class SensitivityCache {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int FORMAT = 1;

    private final Path dir;

    public SensitivityCache(Path dir) { this.dir = dir; }

    /** Where the command line keeps them unless told otherwise: ~/.cache/tessel/sensitivity. */
    public static SensitivityCache inHome() { return new SensitivityCache(Path.of(System.getProperty("user.home"), ".cache", "tessel", "sensitivity")); }

    public Path file(String model, String fingerprint) {
        return dir.resolve(model.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + fingerprint + ".json");
    }

    /** The cached model for this fingerprint, or empty when none is cached. */
    public Optional<ErrorModel> read(String model, String fingerprint) throws IOException {
        Path f = file(model, fingerprint);
        if (!Files.exists(f)) return Optional.empty();
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(f));
        } catch (IOException e) {
            throw new IllegalArgumentException("sensitivity cache " + f + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + "); delete it to measure again");
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("sensitivity cache " + f + ": expected a JSON object");
        if (root.path("format").asInt(-1) != FORMAT)
            throw new IllegalArgumentException("sensitivity cache " + f + ": format " + root.path("format") + ", this Tessel reads format " + FORMAT + "; delete it to measure again");
        if (!fingerprint.equals(root.path("fingerprint").asText()))
            throw new IllegalArgumentException("sensitivity cache " + f + ": its fingerprint " + root.path("fingerprint") + " is not the one its name says (" + fingerprint + ")");
        JsonNode nodes = root.path("nodes");
        if (!nodes.isObject()) throw new IllegalArgumentException("sensitivity cache " + f + ": key 'nodes' must be an object");
        Map<String, Map<Precision, ErrorModel.NodeError>> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = nodes.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> n = it.next();
            Map<Precision, ErrorModel.NodeError> byP = new EnumMap<>(Precision.class);
            for (Iterator<Map.Entry<String, JsonNode>> pt = n.getValue().fields(); pt.hasNext(); ) {
                Map.Entry<String, JsonNode> e = pt.next();
                Precision q = Precision.fromText(e.getKey()).orElseThrow(() -> new IllegalArgumentException(
                        "sensitivity cache " + f + ": node '" + n.getKey() + "': unknown precision '" + e.getKey() + "'"));
                JsonNode rel = e.getValue().path("rel_l2"), top1 = e.getValue().path("top1");
                if (!rel.isNumber() && !"inf".equals(rel.asText()))
                    throw new IllegalArgumentException("sensitivity cache " + f + ": node '" + n.getKey() + "' " + e.getKey() + ": key 'rel_l2' must be a number or \"inf\"");
                byP.put(q, new ErrorModel.NodeError(rel.isNumber() ? rel.asDouble() : Double.POSITIVE_INFINITY, top1.isNumber() ? top1.asDouble() : Double.NaN));
            }
            out.put(n.getKey(), byP);
        }
        return Optional.of(new ErrorModel(fingerprint, out, 1));
    }

    /** Writes the measured model (atomically). */
    public Path write(String model, Sensitivity.Measured m, String inputs) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("model", model);
        root.put("fingerprint", m.model().fingerprint());
        root.put("inputs", inputs);
        root.put("engines", m.engines());
        root.put("seconds", Math.round(m.seconds() * 1000) / 1000.0);
        ObjectNode nodes = root.putObject("nodes");
        m.model().nodes().forEach((n, byP) -> {
            ObjectNode o = nodes.putObject(n);
            byP.forEach((q, e) -> {
                if (q == Precision.FP32) return;
                ObjectNode x = o.putObject(q.text());
                if (Double.isFinite(e.relL2())) x.put("rel_l2", e.relL2());
                else x.put("rel_l2", "inf"); // an output overflowed: JSON has no infinity
                if (Double.isNaN(e.top1Disagreement())) x.putNull("top1");
                else x.put("top1", e.top1Disagreement());
            });
        });
        Files.createDirectories(dir);
        Path f = file(model, m.model().fingerprint());
        AtomicFiles.writeString(f, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        return f;
    }
}
