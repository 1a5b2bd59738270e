package org.tessel.ir;

import java.util.List;

/** The verifier's verdict: every problem found, each naming its node or value. */
public class VerificationException extends IrException {
    private final List<String> problems;

    public VerificationException(String graphName, List<String> problems) {
        super("graph '" + graphName + "' is invalid (" + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "):\n  - "
                + String.join("\n  - ", problems.subList(0, Math.min(problems.size(), 20)))
                + (problems.size() > 20 ? "\n  ... and " + (problems.size() - 20) + " more" : ""));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() { return problems; }
}
