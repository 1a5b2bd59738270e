package org.tessel.plugins;

import java.util.List;
import java.util.Map;
import org.tessel.api.PluginException;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.ChosenAlgorithm;
import org.tessel.api.select.NodeView;

/** A plugin's algorithm selector with its calls guarded: what it throws names the plugin (the search adds the selector and the node). */
final class GuardedSelector implements AlgorithmSelector {
    private final AlgorithmSelector s;
    private final String plugin;
    private final String name, summary;

    GuardedSelector(AlgorithmSelector s, String plugin) {
        this.s = s;
        this.plugin = plugin;
        String w = "plugin " + plugin + ": selector " + s.getClass().getName();
        this.name = Guard.call(() -> w + " threw in name()", s::name);
        if (name == null || name.isBlank() || name.contains(":") || name.contains(","))
            throw new PluginException(w + ": name '" + name + "' must be non-empty without ':' or ','");
        this.summary = String.valueOf(Guard.call(() -> w + " threw in summary()", s::summary));
    }

    /** The plugin's own selector object. */
    AlgorithmSelector unwrap() { return s; }

    String plugin() { return plugin; }

    @Override public String name() { return name; }
    @Override public String summary() { return summary; }

    @Override public AlgorithmSelector configure(Map<String, String> options) {
        AlgorithmSelector c;
        try {
            c = s.configure(options);
        } catch (IllegalArgumentException e) {
            throw new PluginException("selector '" + name + "' (plugin " + plugin + "): " + e.getMessage(), e);
        } catch (RuntimeException | LinkageError e) {
            throw new PluginException("plugin " + plugin + ": selector '" + name + "' threw in configure(" + options + "): " + Guard.describe(e) + Guard.hint(e), e);
        }
        if (c == null) throw new PluginException("plugin " + plugin + ": selector '" + name + "' returned null from configure(" + options + ")");
        return c == s ? this : new GuardedSelector(c, plugin);
    }

    @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
        return Guard.call(() -> "plugin " + plugin, () -> s.selectAlgorithms(node, candidates));
    }

    @Override public void reportAlgorithms(List<ChosenAlgorithm> choices) {
        Guard.call(() -> "plugin " + plugin, () -> { s.reportAlgorithms(choices); return null; });
    }

    @Override public String toString() { return name + " (plugin " + plugin + ")"; }
}
