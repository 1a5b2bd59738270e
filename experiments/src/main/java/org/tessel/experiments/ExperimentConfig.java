package org.tessel.experiments;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.zoo.Zoo;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.tactics.TacticCatalog;
import org.tessel.search.Strategies;
import org.tessel.search.Suggest;

/**
 * A search experiment: the matrix models x strategies x time limits x seeds x targets, and the
 * knobs every run shares. Read from YAML; an unknown key, a value of the wrong type, or an
 * unknown model, strategy, target or precision rule is refused naming the key and line, with a
 * suggestion.
 *
 * <pre>
 * name: smoke
 * models: [resnet50-tiny, bert-tiny]
 * strategies: [timefold, greedy]
 * time_limits: [5]        # seconds, the safety net; moves end a run deterministically
 * seeds: [0, 1]
 * targets: [h100]
 * force: ["layer1.0.conv1=cudnn.conv.fused_bias_act:fp16:nhwc"]   # optional, as tessel search --force
 * </pre>
 */
public record ExperimentConfig(
        @JsonProperty("name") String name,
        @JsonProperty("models") List<String> models,
        @JsonProperty("strategies") List<String> strategies,
        @JsonProperty("time_limits") List<Double> timeLimits,
        @JsonProperty("seeds") List<Long> seeds,
        @JsonProperty("targets") List<String> targets,
        @JsonProperty("batch") Integer batch,
        @JsonProperty("moves") Long moves,
        @JsonProperty("unimproved_steps") Long unimprovedSteps,
        @JsonProperty("random_samples") Integer randomSamples,
        @JsonProperty("precision") List<String> precision,
        @JsonProperty("memory_budget_mib") Double memoryBudgetMiB,
        @JsonProperty("cuda_graphs") Boolean cudaGraphs,
        @JsonProperty("force") List<String> force) {

    /** The keys a config may use, for suggestions. */
    public static final List<String> KEYS = List.of("name", "models", "strategies", "time_limits", "seeds", "targets", "batch",
            "moves", "unimproved_steps", "random_samples", "precision", "memory_budget_mib", "cuda_graphs", "force");

    public static ExperimentConfig read(Path file) throws IOException {
        ObjectMapper m = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY);
        String where = file.toString();
        String text = Files.readString(file);
        ExperimentConfig c;
        try {
            c = m.readValue(text, ExperimentConfig.class);
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException(where + ": unknown key '" + e.getPropertyName() + "' at line " + lineOf(text, e.getPropertyName(), e.getLocation().getLineNr())
                    + Suggest.hint(e.getPropertyName(), KEYS) + "; keys: " + String.join(", ", KEYS));
        } catch (MismatchedInputException e) {
            throw new IllegalArgumentException(where + ": key '" + path(e) + "' at line " + lineOf(text, path(e).replaceAll("\\[.*", ""), e.getLocation().getLineNr()) + ": expected "
                    + expected(path(e)) + " (" + firstLine(e.getOriginalMessage()) + ")");
        } catch (JsonMappingException e) {
            throw new IllegalArgumentException(where + ": " + firstLine(e.getOriginalMessage()) + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException(where + ": not valid YAML: " + firstLine(e.getOriginalMessage()) + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()));
        }
        if (c == null) throw new IllegalArgumentException(where + ": empty config; give at least 'models' and 'strategies'");
        String name = c.name() != null ? c.name() : file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        c = new ExperimentConfig(name, c.models, c.strategies, c.timeLimits, c.seeds, c.targets, c.batch, c.moves, c.unimprovedSteps,
                c.randomSamples, c.precision, c.memoryBudgetMiB, c.cudaGraphs, c.force);
        c.validate(where);
        return c;
    }

    /** The line a top-level key is written on (Jackson's location points past it), else Jackson's line. */
    static int lineOf(String text, String key, int fallback) {
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) if (lines[i].matches("\\s*" + java.util.regex.Pattern.quote(key) + "\\s*:.*")) return i + 1;
        return fallback;
    }

    private static String path(JsonMappingException e) {
        List<String> parts = new ArrayList<>();
        for (JsonMappingException.Reference r : e.getPath()) parts.add(r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]");
        return parts.isEmpty() ? "?" : String.join(".", parts).replace(".[", "[");
    }

    private static String expected(String key) {
        String k = key.replaceAll("\\[\\d+]", "");
        return switch (k) {
            case "models", "strategies", "targets", "precision" -> "a list of names";
            case "force" -> "a list of PATTERN=TACTIC[:PRECISION[:LAYOUT]]";
            case "time_limits" -> "a list of seconds";
            case "seeds" -> "a list of integers";
            case "batch", "random_samples", "moves", "unimproved_steps" -> "an integer";
            case "memory_budget_mib" -> "a number of MiB";
            case "cuda_graphs" -> "true or false";
            default -> "a " + k;
        };
    }

    private static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }

    void validate(String where) {
        require(where, "models", models);
        require(where, "strategies", strategies);
        for (String mdl : models)
            if (!Zoo.names().contains(mdl))
                throw new IllegalArgumentException(where + ": key 'models': unknown model '" + mdl + "'" + Suggest.hint(mdl, Zoo.names()) + "; zoo models: " + String.join(", ", Zoo.names()));
        for (String s : strategies)
            if (!Strategies.names().contains(s))
                throw new IllegalArgumentException(where + ": key 'strategies': unknown strategy '" + s + "'" + Suggest.hint(s, Strategies.names()) + "; known: " + String.join(", ", Strategies.names()));
        for (String t : targets())
            try { DeviceSpec.byName(t); } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": key 'targets': unknown target '" + t + "'" + Suggest.hint(t, DeviceSpec.names()) + "; known: " + String.join(", ", DeviceSpec.names()));
            }
        for (double tl : timeLimits()) if (!(tl > 0)) throw new IllegalArgumentException(where + ": key 'time_limits': " + tl + " is not a positive number of seconds");
        for (String p : precisionRules())
            try { PrecisionRule.parse(p); } catch (IllegalArgumentException e) { throw new IllegalArgumentException(where + ": key 'precision': " + e.getMessage()); }
        for (String f : forcedChoices()) {
            ForcedChoice fc;
            try { fc = ForcedChoice.parse(f); } catch (IllegalArgumentException e) { throw new IllegalArgumentException(where + ": key 'force': " + e.getMessage()); }
            if (!TacticCatalog.global().has(fc.tacticId())) {
                try { TacticCatalog.global().byId(fc.tacticId()); } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ": key 'force': forced choice '" + f + "': " + e.getMessage());
                }
            }
        }
        if (batch != null && batch < 1) throw new IllegalArgumentException(where + ": key 'batch': must be at least 1, got " + batch);
        if (memoryBudgetMiB != null && !(memoryBudgetMiB > 0)) throw new IllegalArgumentException(where + ": key 'memory_budget_mib': must be positive, got " + memoryBudgetMiB);
    }

    private static void require(String where, String key, List<?> v) {
        if (v == null || v.isEmpty()) throw new IllegalArgumentException(where + ": key '" + key + "' is missing or empty");
    }

    public List<Double> timeLimits() { return timeLimits == null || timeLimits.isEmpty() ? List.of(10.0) : timeLimits; }
    public List<Long> seeds() { return seeds == null || seeds.isEmpty() ? List.of(0L) : seeds; }
    public List<String> targets() { return targets == null || targets.isEmpty() ? List.of("h100") : targets; }
    public List<String> precisionRules() { return precision == null ? List.of() : precision; }
    public List<String> forcedChoices() { return force == null ? List.of() : force; }

    /** Number of runs in the matrix. */
    public int runs() { return models.size() * strategies.size() * timeLimits().size() * seeds().size() * targets().size(); }
}
