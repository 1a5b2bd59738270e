package org.tessel.passes;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Passes by name. {@link #global()} holds every {@link PassProvider} found by ServiceLoader; an
 * unknown name is refused with the list of known ones and the closest match.
 */
public final class PassRegistry {
    private final Map<String, Pass> passes;

    private PassRegistry(Map<String, Pass> passes) { this.passes = passes; }

    private static final class Holder {
        static final PassRegistry GLOBAL = of(ServiceLoader.load(PassProvider.class, PassRegistry.class.getClassLoader())
                .stream().flatMap(p -> p.get().passes().stream()).toList());
    }

    public static PassRegistry global() { return Holder.GLOBAL; }

    public static PassRegistry of(Collection<Pass> list) {
        Map<String, Pass> m = new LinkedHashMap<>();
        for (Pass p : list) {
            Pass prev = m.put(p.info().name(), p);
            if (prev != null) throw new IllegalStateException("pass '" + p.info().name() + "' is registered twice: " + prev.getClass().getName() + " and " + p.getClass().getName());
        }
        return new PassRegistry(m);
    }

    public PassRegistry with(Pass... extra) {
        List<Pass> l = new ArrayList<>(passes.values());
        l.addAll(List.of(extra));
        return of(l);
    }

    public Pass get(String name) {
        Pass p = passes.get(name);
        if (p == null) {
            String near = closest(name);
            throw new PassException("unknown pass '" + name + "'" + (near == null ? "" : " (did you mean '" + near + "'?)") + "; known passes: " + String.join(", ", names()));
        }
        return p;
    }

    public List<String> names() { return passes.keySet().stream().sorted().toList(); }

    public Collection<Pass> all() {
        List<Pass> l = new ArrayList<>(passes.values());
        l.sort(Comparator.comparing(p -> p.info().name()));
        return Collections.unmodifiableList(l);
    }

    private String closest(String name) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : passes.keySet()) {
            int d = editDistance(name, k);
            if (d < bestD) { bestD = d; best = k; }
        }
        return bestD <= Math.max(2, name.length() / 3) ? best : null;
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}
