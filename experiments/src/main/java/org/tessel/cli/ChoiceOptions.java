package org.tessel.cli;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.search.ForcedChoice;
import org.tessel.search.SearchOptions;
import picocli.CommandLine.Option;

/**
 * What `search` and `build` take to steer the search's choices: forced choices
 * ({@code --force PATTERN=TACTIC[:PRECISION[:LAYOUT]]}) and algorithm selectors
 * ({@code --selector NAME_OR_CLASS[:key=value,...]}, from the class path or a plugin), both repeatable; and the cost
 * model's parameters it prices with ({@code --params}).
 */
final class ChoiceOptions {
    @Option(names = "--force", paramLabel = "PATTERN=TACTIC[:PRECISION[:LAYOUT]]",
            description = "Force the tactic (and precision, layout) of every node whose name or op matches the glob, e.g. conv1=cudnn.conv.fused_bias_act:fp16:nhwc "
                    + "or 'Softmax=cpu.reference' (repeatable; '*' leaves the precision open). A fused group containing the node runs the forced tactic or is not "
                    + "fused; a choice that cannot be obeyed fails naming the node and why.")
    List<String> force = new ArrayList<>();

    @Option(names = "--selector", paramLabel = "NAME_OR_CLASS[:key=value,...]",
            description = "An algorithm selector (AlgorithmSelector SPI, from a plugin: see `tessel plugins`) that filters or orders every node's candidates "
                    + "and is told the plan (repeatable, applied in order); options after ':' go to the selector.")
    List<String> selectors = new ArrayList<>();

    @Option(names = "--params", paramLabel = "FILE|h200-fitted|defaults",
            description = "The cost model's parameters the search prices with: 'defaults' (the default), 'h200-fitted' (fitted to 278 H200 kernel timings), "
                    + "or a file written by `tessel tactics --calibrate CSV --write-params FILE` or `tessel calibrate --timing-cache C --write-params FILE`.")
    String params;

    boolean given() { return !force.isEmpty() || !selectors.isEmpty() || params != null; }

    /** The flag that makes these options a search's, for "--force constrains a search" messages. */
    String flag() { return !force.isEmpty() ? "--force" : !selectors.isEmpty() ? "--selector" : "--params"; }

    SearchOptions apply(SearchOptions o) {
        if (params != null) o = o.withCostParams(org.tessel.cost.CostModel.Params.named(params, "--params"));
        if (!force.isEmpty()) o = o.withForced(force.stream().map(ForcedChoice::parse).toList());
        if (!selectors.isEmpty()) {
            List<AlgorithmSelector> s = new ArrayList<>();
            for (String spec : selectors) s.add(Tessel.plugins().selector(spec));
            o = o.withSelectors(s);
        }
        return o;
    }
}
