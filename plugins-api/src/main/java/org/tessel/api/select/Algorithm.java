package org.tessel.api.select;

import java.util.Objects;
import java.util.OptionalDouble;
import org.tessel.api.Layout;

/**
 * One way to run one node, as an {@link AlgorithmSelector} sees it: a tactic (a catalogue id, as
 * {@code tessel tactics} lists them) at a compute precision and layout, with its predicted time and,
 * when the search prices from a timing cache, its measured time.
 *
 * @param tactic         catalogue id, e.g. {@code cudnn.conv.fused_bias_act}, {@code cpu.reference}; followed by {@code /VARIANT}
 *                       where the tactic prices its variants apart, e.g. {@code tessel.attention.paged/mma}
 * @param precision      compute precision, lower case: {@code fp32}, {@code tf32}, {@code fp16}, {@code bf16}, {@code int8}
 * @param layout         layout of the node's image tensors ({@link Layout#ANY} when it has none)
 * @param predictedUs    the cost model's time for the node with this choice, microseconds
 * @param measuredUs     the measured time, microseconds, when a timing cache has this choice; empty otherwise
 * @param workspaceBytes scratch memory the choice needs besides inputs and outputs
 */
public record Algorithm(String tactic, String precision, Layout layout, double predictedUs, OptionalDouble measuredUs, long workspaceBytes) {
    public Algorithm {
        Objects.requireNonNull(tactic, "tactic");
        Objects.requireNonNull(precision, "precision");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(measuredUs, "measuredUs");
    }

    /** The time the search prices the choice at: the measurement where there is one, else the prediction. */
    public double timeUs() { return measuredUs.orElse(predictedUs); }

    /** "tactic fp16/nhwc" for messages. */
    public String describe() { return tactic + " " + precision + (layout == Layout.ANY ? "" : "/" + layout.text()); }
}
