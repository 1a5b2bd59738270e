package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import org.tessel.ir.Node;

/**
 * The GPU tactic implementations found by {@link ServiceLoader}, by catalogue id. Two implementations
 * claiming one id are an error naming both.
 */
final class TacticImplementations {
    private final List<TacticImplementation> all;
    private final Map<String, TacticImplementation> byId;

    TacticImplementations(List<TacticImplementation> all) {
        this.all = List.copyOf(all);
        Map<String, TacticImplementation> m = new LinkedHashMap<>();
        for (TacticImplementation i : all)
            for (String id : i.tacticIds()) {
                TacticImplementation other = m.put(id, i);
                if (other != null)
                    throw new GpuEngineException("GPU tactic '" + id + "' is implemented twice: by " + other.getClass().getName() + " and by " + i.getClass().getName());
            }
        this.byId = Collections.unmodifiableMap(m);
    }

    private static volatile TacticImplementations loaded;

    /** The implementations on the class path (built-in and plugins'), loaded once. */
    static TacticImplementations loaded() {
        TacticImplementations l = loaded;
        if (l == null) {
            List<TacticImplementation> found = new ArrayList<>();
            try {
                for (TacticImplementation i : ServiceLoader.load(TacticImplementation.class, TacticImplementation.class.getClassLoader())) found.add(i);
            } catch (ServiceConfigurationError e) {
                throw new GpuEngineException("a GPU tactic implementation failed to load: " + e.getMessage(), e);
            }
            loaded = l = new TacticImplementations(found);
        }
        return l;
    }

    /**
     * The implementation of a catalogue id (no variant), or null: a built-in one, else, for a plugin's tactic that brings
     * its kernel as CUDA C ({@link org.tessel.tactics.CudaSourceTactic}, in the catalogue now global), the plugin-kernel layer.
     */
    TacticImplementation of(String id) {
        TacticImplementation i = byId.get(id);
        if (i != null) return i;
        org.tessel.tactics.TacticCatalog catalog = org.tessel.tactics.TacticCatalog.global();
        if (!catalog.has(id)) return null;
        return catalog.byId(id) instanceof org.tessel.tactics.CudaSourceTactic t ? new PluginKernelLayers(t) : null;
    }

    Set<String> ids() { return byId.keySet(); }

    List<TacticImplementation> all() { return all; }

    /** True when some implementation computes this node's op: a built-in one, or a plugin's CUDA C tactic in the global catalogue. */
    boolean computes(Node n) {
        for (TacticImplementation i : all) if (i.computes(n)) return true;
        for (org.tessel.tactics.Tactic t : org.tessel.tactics.TacticCatalog.global().all())
            if (t instanceof org.tessel.tactics.CudaSourceTactic c && !byId.containsKey(c.id()) && c.appliesTo(n)) return true;
        return false;
    }

    /** A rule's pick: the implementation and the tactic it names. */
    record Rule(TacticImplementation implementation, String tactic) {}

    /** The fixed rule's tactic for {@code n} (the first implementation that names one), or null when none computes it. */
    Rule rule(LayerContext c, Node n) {
        for (TacticImplementation i : all) {
            if (!i.computes(n)) continue;
            String t = i.ruleTactic(c, n);
            if (t != null) return new Rule(i, t);
        }
        return null;
    }
}
