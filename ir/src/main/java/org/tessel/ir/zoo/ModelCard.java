package org.tessel.ir.zoo;

import java.util.OptionalLong;

/**
 * What {@link Zoo#describe} says about a model: a summary of its architecture, its inputs and
 * outputs at the default options, and the published size to check a build against.
 *
 * @param reference the published parameter count and multiply-adds per example at the default
 *                  options, or null for the scaled-down variants, which have no published figures
 */
public record ModelCard(String name, String summary, String inputs, String outputs, Reference reference) {
    /**
     * @param macs   multiply-adds of one example (one image, or one sequence of the default length)
     * @param source where the figures come from
     */
    public record Reference(long parameters, OptionalLong macs, String source) {}

    @Override public String toString() {
        StringBuilder sb = new StringBuilder(name).append(": ").append(summary)
                .append("\n  inputs:  ").append(inputs).append("\n  outputs: ").append(outputs);
        if (reference != null) {
            sb.append(String.format("%n  published: %.3f M parameters", reference.parameters() / 1e6));
            reference.macs().ifPresent(m -> sb.append(String.format(", %.3f G multiply-adds", m / 1e9)));
            sb.append(" (").append(reference.source()).append(')');
        }
        return sb.toString();
    }
}
