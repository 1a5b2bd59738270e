package org.tessel.tactics.plan;

import java.util.Objects;
import org.tessel.api.DType;
import org.tessel.api.Layout;

/**
 * A conversion the plan implies on one edge: the value's producer stores it as {@code from}/{@code fromLayout},
 * the consumer reads it as {@code to}/{@code toLayout}. A builder makes it a cast and/or reformat layer, or
 * folds it into a neighbour's kernel where the tactic can.
 *
 * @param value       the converted value's name in the planned graph
 * @param producer    the producing node's name, or "" for a graph input
 * @param consumer    the consuming node's name, or "" for a graph output
 * @param predictedUs the predicted time of the conversion, microseconds (NaN when unpriced)
 */
public record Conversion(String value, String producer, String consumer, DType from, Layout fromLayout, DType to, Layout toLayout, double predictedUs) {
    public Conversion {
        Objects.requireNonNull(value, "value");
        producer = producer == null ? "" : producer;
        consumer = consumer == null ? "" : consumer;
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        Objects.requireNonNull(fromLayout, "fromLayout");
        Objects.requireNonNull(toLayout, "toLayout");
    }

    public boolean casts() { return from != to; }

    public boolean reformats() { return fromLayout != Layout.ANY && toLayout != Layout.ANY && fromLayout != toLayout; }

    @Override public boolean equals(Object o) {
        return o instanceof Conversion c && value.equals(c.value) && producer.equals(c.producer) && consumer.equals(c.consumer) && from == c.from
                && fromLayout == c.fromLayout && to == c.to && toLayout == c.toLayout && Double.compare(predictedUs, c.predictedUs) == 0;
    }

    @Override public int hashCode() { return Objects.hash(value, producer, consumer, from.ordinal(), fromLayout.ordinal(), to.ordinal(), toLayout.ordinal()); }

    @Override public String toString() {
        return "%" + value + " " + (producer.isEmpty() ? "(input)" : producer) + " -> " + (consumer.isEmpty() ? "(output)" : consumer) + ": "
                + from.text() + (fromLayout == Layout.ANY ? "" : "{" + fromLayout.text() + "}") + " -> " + to.text() + (toLayout == Layout.ANY ? "" : "{" + toLayout.text() + "}");
    }
}
