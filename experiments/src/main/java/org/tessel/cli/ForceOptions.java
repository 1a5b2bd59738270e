package org.tessel.cli;

import java.util.ArrayList;
import java.util.List;
import org.tessel.search.ForcedChoice;
import org.tessel.search.SearchOptions;
import picocli.CommandLine.Option;

/** {@code --force PATTERN=TACTIC[:PRECISION[:LAYOUT]]}, repeatable: what `search` and `build` take to pin choices. */
final class ForceOptions {
    @Option(names = "--force", paramLabel = "PATTERN=TACTIC[:PRECISION[:LAYOUT]]",
            description = "Force the tactic (and precision, layout) of every node whose name or op matches the glob, e.g. conv1=cudnn.conv.fused_bias_act:fp16:nhwc "
                    + "or 'Softmax=cpu.reference' (repeatable; '*' leaves the precision open). A fused group containing the node runs the forced tactic or is not "
                    + "fused; a choice that cannot be obeyed fails naming the node and why.")
    List<String> force = new ArrayList<>();

    List<ForcedChoice> parsed() { return force.stream().map(ForcedChoice::parse).toList(); }

    boolean given() { return !force.isEmpty(); }

    SearchOptions apply(SearchOptions o) { return force.isEmpty() ? o : o.withForced(parsed()); }
}
