package org.tessel.search;

import java.util.List;

/**
 * The names of the score rules, shared by the Timefold constraint provider and the plain
 * {@link PlanEvaluator} so that both report the same terms. Hard rules first, then soft.
 */
public final class Rules {
    private Rules() {}

    public static final String TACTIC_SUPPORTS_CHOICE = "tactic supports choice";
    public static final String USER_PRECISION = "user precision respected";
    public static final String FUSED_NO_OVERLAP = "fused candidates do not overlap";
    public static final String FUSED_MEMBERS_SHARE_FORMAT = "fused members share root format";
    public static final String FUSED_GROUP_HAS_TACTIC = "fused group has a tactic";
    /** A node at an in-group choice (a format only a fused group's tactic runs it at) must be in a fused group. */
    public static final String IN_GROUP_CHOICE_FUSED = "in-group choice is fused";
    public static final String MEMORY_WITHIN_BUDGET = "memory within budget";
    /** The plan's predicted error (per-node errors summed) within the accuracy budget; excess in units of 1e-6. */
    public static final String ACCURACY_WITHIN_BUDGET = "accuracy within budget";

    public static final String NODE_LATENCY = "node latency";
    public static final String FUSED_GROUP_LATENCY = "fused group latency";
    public static final String REFORMAT_ON_EDGE = "reformat on edge";
    public static final String CAST_ON_EDGE = "cast on edge";
    public static final String INPUT_CONVERSION = "conversion from graph input";
    public static final String OUTPUT_CONVERSION = "conversion to graph output";

    public static final List<String> HARD = List.of(TACTIC_SUPPORTS_CHOICE, USER_PRECISION, FUSED_NO_OVERLAP,
            FUSED_MEMBERS_SHARE_FORMAT, FUSED_GROUP_HAS_TACTIC, IN_GROUP_CHOICE_FUSED, MEMORY_WITHIN_BUDGET, ACCURACY_WITHIN_BUDGET);
    public static final List<String> SOFT = List.of(NODE_LATENCY, FUSED_GROUP_LATENCY, REFORMAT_ON_EDGE, CAST_ON_EDGE, INPUT_CONVERSION, OUTPUT_CONVERSION);

    /** Memory excess is penalized in whole KiB, rounded up. */
    public static long excessKiB(long excessBytes) { return excessBytes <= 0 ? 0 : (excessBytes + 1023) / 1024; }
}
