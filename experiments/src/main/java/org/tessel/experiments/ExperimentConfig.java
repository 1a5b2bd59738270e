package org.tessel.experiments;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.cost.DeviceSpec;
import org.tessel.ir.zoo.Zoo;
import org.tessel.search.ForcedChoice;
import org.tessel.search.PrecisionRule;
import org.tessel.tactics.TacticCatalog;
import org.tessel.search.Strategies;
import org.tessel.search.accuracy.AccuracyBudget;
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
 * selectors: ["tactic-pins:exclude=cudnn.*"]                       # optional, as tessel search --selector (plugins: --plugins)
 * accuracy_budgets: [rel_l2=0, rel_l2=0.001, rel_l2=0.01]   # optional: a latency/accuracy sweep (pareto.csv, pareto.png)
 * accuracy_samples: 2     # generated input sets for sensitivity and for the held-out check
 * params: h200-fitted    # optional, as tessel search --params: defaults, h200-fitted, or a file (beside this config)
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
        @JsonProperty("force") List<String> force,
        @JsonProperty("selectors") List<String> selectors,
        @JsonProperty("accuracy_budgets") List<String> accuracyBudgets,
        @JsonProperty("accuracy_samples") Integer accuracySamples,
        @JsonProperty("params") String params) {

    /** The keys a config may use, for suggestions. */
    public static final List<String> KEYS = List.of("name", "models", "strategies", "time_limits", "seeds", "targets", "batch",
            "moves", "unimproved_steps", "random_samples", "precision", "memory_budget_mib", "cuda_graphs", "force", "selectors", "accuracy_budgets", "accuracy_samples", "params");

    public static ExperimentConfig read(Path file) throws IOException {
        ObjectMapper m = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
                .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        String where = file.toString();
        String text = org.tessel.ir.io.TextFiles.read(file);
        // syntax first, then types: a YAML error is said as one, not as a wrong value
        com.fasterxml.jackson.databind.JsonNode tree;
        try {
            tree = m.readTree(text);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException(where + ": not valid YAML: " + yamlProblem(e));
        }
        if (tree == null || tree.isMissingNode() || tree.isNull() || (tree.isObject() && tree.isEmpty()))
            throw new IllegalArgumentException(where + ": empty config; give at least 'models' and 'strategies' (see experiments/configs/)");
        if (!tree.isObject())
            throw new IllegalArgumentException(where + ": expected keys (name: ..., models: [...], strategies: [...]), found a " + kind(tree));
        ExperimentConfig c;
        try {
            c = m.treeToValue(tree, ExperimentConfig.class);
        } catch (UnrecognizedPropertyException e) {
            throw new IllegalArgumentException(where + ": unknown key '" + e.getPropertyName() + "' at line " + lineOf(text, e.getPropertyName(), e.getLocation().getLineNr())
                    + Suggest.hint(e.getPropertyName(), KEYS) + "; keys: " + String.join(", ", KEYS));
        } catch (MismatchedInputException e) {
            throw new IllegalArgumentException(where + ": key '" + path(e) + "' at line " + lineOf(text, path(e).replaceAll("\\[.*", ""), e.getLocation().getLineNr()) + ": expected "
                    + expected(path(e)) + " (" + firstLine(e.getOriginalMessage()) + ")");
        } catch (JsonMappingException e) {
            throw new IllegalArgumentException(where + ": " + firstLine(e.getOriginalMessage()) + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()));
        }
        String name = c.name() != null ? c.name() : file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        if (!NAME.matcher(name).matches())
            throw new IllegalArgumentException(where + ": " + (c.name() != null ? "key 'name': '" + name + "'" : "the file name gives the experiment name '" + name + "', which")
                    + " is not a plain name (letters, digits, '.', '_', '-'; no '/' and no leading '.'): results go to results/NAME" + (c.name() != null ? "" : "; set key 'name'"));
        c = new ExperimentConfig(name, c.models, c.strategies, c.timeLimits, c.seeds, c.targets, c.batch, c.moves, c.unimprovedSteps,
                c.randomSamples, c.precision, c.memoryBudgetMiB, c.cudaGraphs, c.force, c.selectors, c.accuracyBudgets, c.accuracySamples,
                c.params == null || c.params.equals("defaults") || c.params.equals("h200-fitted") ? c.params
                        : (file.toAbsolutePath().getParent() == null ? Path.of(c.params) : file.toAbsolutePath().getParent().resolve(c.params)).toString());
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
            case "selectors" -> "a list of NAME_OR_CLASS[:key=value,...]";
            case "accuracy_budgets" -> "a list of rel_l2=V or top1=V";
            case "accuracy_samples" -> "an integer";
            case "time_limits" -> "a list of seconds";
            case "seeds" -> "a list of integers";
            case "batch", "random_samples", "moves", "unimproved_steps" -> "an integer";
            case "memory_budget_mib" -> "a number of MiB";
            case "cuda_graphs" -> "true or false";
            case "params" -> "defaults, h200-fitted or a parameters file";
            default -> "a " + k;
        };
    }

    /**
     * SnakeYAML's message without its source excerpts, on one line, with the last position it names:
     * "while parsing a flow sequence; expected ',' or ']', but got : (line 3, column 11)".
     */
    static String yamlProblem(com.fasterxml.jackson.core.JacksonException e) {
        String msg = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        List<String> parts = new ArrayList<>();
        String at = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
        for (String line : msg.split("\n")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("^ in '[^']*', line (\\d+), column (\\d+):").matcher(line);
            if (m.find()) at = " (line " + m.group(1) + ", column " + m.group(2) + ")";
            else if (!line.isBlank() && !Character.isWhitespace(line.charAt(0))) parts.add(line.strip());
        }
        return String.join("; ", parts) + at;
    }

    private static String kind(com.fasterxml.jackson.databind.JsonNode n) {
        return n.isArray() ? "list" : n.isTextual() ? "text '" + n.asText() + "'" : n.isNumber() ? "number" : n.isBoolean() ? "true/false" : n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }

    /** A results folder name: letters, digits, '.', '_' and '-', not starting with '.', so results/NAME stays inside results/. */
    private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*");

    void validate(String where) {
        if (params != null) org.tessel.cost.CostModel.Params.named(params, where + ": key 'params':");
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
        for (double tl : timeLimits()) if (!(tl > 0) || Double.isInfinite(tl)) throw new IllegalArgumentException(where + ": key 'time_limits': " + tl + " is not a positive number of seconds");
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
        for (String sel : selectorSpecs())
            if (sel.isBlank() || sel.startsWith(":")) throw new IllegalArgumentException(where + ": key 'selectors': '" + sel + "' names no selector; expected NAME_OR_CLASS[:key=value,...]");
        for (String b : accuracyBudgets())
            try { AccuracyBudget.parse(b, "key 'accuracy_budgets':"); } catch (IllegalArgumentException e) { throw new IllegalArgumentException(where + ": " + e.getMessage()); }
        if (accuracyBudgets().stream().map(b -> AccuracyBudget.parse(b, "accuracy_budgets").metric()).distinct().count() > 1)
            throw new IllegalArgumentException(where + ": key 'accuracy_budgets': mixes rel_l2 and top1 budgets; one sweep draws one metric");
        if (accuracySamples != null && accuracySamples < 1) throw new IllegalArgumentException(where + ": key 'accuracy_samples': must be at least 1, got " + accuracySamples);
        if (batch != null && batch < 1) throw new IllegalArgumentException(where + ": key 'batch': must be at least 1, got " + batch);
        if (moves != null && moves < 1) throw new IllegalArgumentException(where + ": key 'moves': must be at least 1, got " + moves);
        if (unimprovedSteps != null && unimprovedSteps < 1) throw new IllegalArgumentException(where + ": key 'unimproved_steps': must be at least 1, got " + unimprovedSteps);
        if (randomSamples != null && randomSamples < 1) throw new IllegalArgumentException(where + ": key 'random_samples': must be at least 1, got " + randomSamples);
        if (memoryBudgetMiB != null && (!(memoryBudgetMiB > 0) || Double.isInfinite(memoryBudgetMiB))) throw new IllegalArgumentException(where + ": key 'memory_budget_mib': must be positive, got " + memoryBudgetMiB);
    }

    private static void require(String where, String key, List<?> v) {
        if (v == null || v.isEmpty()) throw new IllegalArgumentException(where + ": key '" + key + "' is missing or empty");
    }

    public List<Double> timeLimits() { return timeLimits == null || timeLimits.isEmpty() ? List.of(10.0) : timeLimits; }
    public List<Long> seeds() { return seeds == null || seeds.isEmpty() ? List.of(0L) : seeds; }
    public List<String> targets() { return targets == null || targets.isEmpty() ? List.of("h100") : targets; }
    public List<String> precisionRules() { return precision == null ? List.of() : precision; }
    public List<String> forcedChoices() { return force == null ? List.of() : force; }
    /** Algorithm selectors, as {@code --selector} names them; resolved (class path and plugins) by the command that runs the experiment. */
    public List<String> selectorSpecs() { return selectors == null ? List.of() : selectors; }
    /** The accuracy budgets of a latency/accuracy sweep (empty: no sweep). */
    public List<String> accuracyBudgets() { return accuracyBudgets == null ? List.of() : accuracyBudgets; }
    public int accuracySamplesOrDefault() { return accuracySamples == null ? 2 : accuracySamples; }

    /** Number of runs in the matrix. */
    public int runs() { return models.size() * strategies.size() * timeLimits().size() * seeds().size() * targets().size(); }
}
