package org.tessel.api.select;

import java.util.List;
import java.util.Map;

/**
 * Steers the search's choices, as TensorRT's {@code IAlgorithmSelector} steers its builder. While the
 * search problem is built, {@link #selectAlgorithms} sees each node's candidates (and each fusion
 * candidate's fused candidates) after Tessel's own rules (support, allowed precisions, precision
 * rules, forced choices) and returns the ones the search may use; once a plan is found,
 * {@link #reportAlgorithms} is told what every node of the plan runs.
 *
 * <p>A plugin implements it and lists the class in
 * {@code META-INF/services/org.tessel.api.select.AlgorithmSelector}; {@code tessel search|build
 * --selector NAME} (or the class name) turns it on, {@code --selector NAME:key=value,...} passes it
 * options ({@link #configure}). Selectors run in the order given, each seeing what the previous one
 * kept.
 */
public interface AlgorithmSelector {
    /** The name {@code --selector} finds it by; by default the class's simple name. */
    default String name() { return getClass().getSimpleName(); }

    /** One line saying what it does, for {@code tessel plugins}. */
    default String summary() { return ""; }

    /**
     * This selector with options from the command line ({@code --selector NAME:key=value,...}) or a
     * config. The instance ServiceLoader made is left as it is; the default accepts no options.
     *
     * @throws IllegalArgumentException naming the option that is unknown or wrong
     */
    default AlgorithmSelector configure(Map<String, String> options) {
        if (!options.isEmpty()) throw new IllegalArgumentException("selector '" + name() + "' takes no options, got " + options.keySet());
        return this;
    }

    /**
     * The candidates the search may use for this node, chosen from {@code candidates} (fastest
     * first). Returning a subset filters; the order returned is the selector's preference and breaks
     * ties between equally priced candidates of one format. Returning an empty list for a plain node
     * fails the search, naming this selector and the node; for a fusion candidate it means the group
     * is not fused. Only candidates from the given list may be returned.
     */
    List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates);

    /** The final plan, node by node in schedule order. The default ignores it. */
    default void reportAlgorithms(List<ChosenAlgorithm> choices) {}
}
