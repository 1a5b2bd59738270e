package org.tessel.tactics;

import java.util.Objects;
import java.util.OptionalDouble;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * The search's window onto real hardware: the measured time of one node (a node of the search's graph, or a
 * fusion candidate's fused node) run by one catalogue tactic at one precision and layout. A backend implements
 * it (the GPU runtime builds and times a one-layer engine); the search calls it for the candidates its cost
 * model ranks best, so the plan is chosen on measured prices. No CUDA here: the search stays device-free.
 *
 * <p>As TensorRT skips a tactic that fails while it is timed, a tactic that fails here (it does not build, does not
 * launch, or writes NaN or infinity where the reference interpreter does not: a broken plugin kernel, say) is
 * {@link Timing.Failed}: the search drops that choice, naming the reason, and the node falls back to its other tactics.
 */
public interface Tuner {
    /** What a tuner says about one (node, tactic, precision, layout). */
    sealed interface Timing {
        /** Microseconds per run, measured (positive and finite). */
        record Measured(double us) implements Timing {
            public Measured {
                if (!(us > 0 && us < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException("a measured time must be positive and finite, got " + us + " us");
            }
        }

        /** Not this tuner's to measure (another backend's tactic, a precision its backend lacks): the prediction stands. */
        record NotMeasured() implements Timing {}

        /** The tactic failed on this device: {@code reason} says how (build, launch, NaN output). The choice is dropped. */
        record Failed(String reason) implements Timing {
            public Failed { Objects.requireNonNull(reason, "reason"); }
        }

        Timing NOT_MEASURED = new NotMeasured();

        static Timing of(OptionalDouble us) { return us.isPresent() ? new Measured(us.getAsDouble()) : NOT_MEASURED; }
    }

    /** How {@code tacticId} runs {@code n} at {@code p} and {@code l} on this tuner's device. */
    Timing time(Node n, String tacticId, Precision p, Layout l);

    /**
     * Microseconds to change a tensor of type {@code t} (its element type the storage type) between NCHW and NHWC on this
     * backend; empty when this tuner does not measure it (the cost model's estimate is then used).
     */
    default OptionalDouble reformatUs(org.tessel.api.TensorType t) { return OptionalDouble.empty(); }

    /**
     * Microseconds this tuner measured to convert a tensor of type {@code t} (its element type the stored one) to
     * {@code to} (the cast a plan puts on an edge between precisions); empty when it does not measure casts.
     */
    default OptionalDouble castUs(org.tessel.api.TensorType t, org.tessel.api.DType to) { return OptionalDouble.empty(); }

    /** One line saying where the measurements come from (device, cache). */
    String describe();
}
