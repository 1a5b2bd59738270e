package org.tessel.tactics;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;

/**
 * Every known tactic, by id: the built-ins and whatever plugins {@link ServiceLoader} finds as
 * {@link TacticProvider}s. Two providers defining one id are an error that names both.
 */
public final class TacticCatalog {
    private final Map<String, Tactic> byId;
    private final Map<String, String> origin;

    private TacticCatalog(Map<String, Tactic> byId, Map<String, String> origin) {
        this.byId = Collections.unmodifiableMap(byId);
        this.origin = Collections.unmodifiableMap(origin);
    }

    private static final class Holder {
        static final TacticCatalog GLOBAL = load(ServiceLoader.load(TacticProvider.class, TacticCatalog.class.getClassLoader()));
    }

    private static volatile TacticCatalog installed;

    /** The catalogue every part of Tessel prices and checks with: the class path's providers (the built-ins among them), plus installed plugins' ({@link #install}). */
    public static TacticCatalog global() {
        TacticCatalog c = installed;
        return c != null ? c : Holder.GLOBAL;
    }

    /** The class path's providers only, whatever is installed. */
    public static TacticCatalog classPath() { return Holder.GLOBAL; }

    /** What {@link #install} returns: closing it restores the catalogue that was global before. */
    public interface Installation extends AutoCloseable {
        @Override void close();
    }

    /** Makes {@code c} what {@link #global()} returns until the installation is closed (the command line's --plugins); installations nest. */
    public static Installation install(TacticCatalog c) {
        java.util.Objects.requireNonNull(c, "catalogue");
        TacticCatalog before = installed;
        installed = c;
        return () -> installed = before;
    }

    /** This catalogue with another provider's tactics; an id defined twice is an error naming both providers. */
    public TacticCatalog with(String provider, List<Tactic> extra) {
        Map<String, Tactic> m = new LinkedHashMap<>(byId);
        Map<String, String> o = new LinkedHashMap<>(origin);
        for (Tactic t : extra) {
            String prev = o.get(t.id());
            if (prev != null) throw new IllegalStateException("tactic '" + t.id() + "' is defined twice: by provider '" + prev + "' and by '" + provider + "'");
            m.put(t.id(), t);
            o.put(t.id(), provider);
        }
        return new TacticCatalog(m, o);
    }

    /** A catalogue of exactly these providers. */
    public static TacticCatalog load(Iterable<? extends TacticProvider> providers) {
        Map<String, Tactic> m = new LinkedHashMap<>();
        Map<String, String> o = new LinkedHashMap<>();
        for (TacticProvider p : providers)
            for (Tactic t : p.tactics()) {
                String prev = o.get(t.id());
                if (prev != null) throw new IllegalStateException("tactic '" + t.id() + "' is defined twice: by provider '" + prev + "' and by '" + p.providerName() + "'");
                m.put(t.id(), t);
                o.put(t.id(), p.providerName());
            }
        return new TacticCatalog(m, o);
    }

    /** The built-in tactics only, without plugins. */
    public static TacticCatalog builtin() { return load(List.of(new BuiltinTactics())); }

    public List<Tactic> all() { return List.copyOf(byId.values()); }

    /** Tactics that implement this node's op kind (or fused kind), supported or not at a given precision and layout. */
    public List<Tactic> candidates(Node n) {
        List<Tactic> out = new ArrayList<>();
        for (Tactic t : byId.values()) if (t.appliesTo(n)) out.add(t);
        return out;
    }

    /** Tactics that implement this node's op kind and that an engine for this device can use. */
    public List<Tactic> candidates(Node n, org.tessel.cost.DeviceSpec device) {
        List<Tactic> out = new ArrayList<>();
        for (Tactic t : byId.values()) if (t.runsOn(device) && t.appliesTo(n)) out.add(t);
        return out;
    }

    /** Tactics that run this node at this precision and layout. */
    public List<Tactic> supported(Node n, Precision p, Layout l) {
        List<Tactic> out = new ArrayList<>();
        for (Tactic t : byId.values()) if (t.appliesTo(n) && t.supports(n, p, l)) out.add(t);
        return out;
    }

    /** The tactic with this id; unknown ids fail listing those that share its first part. */
    public Tactic byId(String id) {
        Tactic t = byId.get(id);
        if (t != null) return t;
        String head = id == null ? "" : id.contains(".") ? id.substring(0, id.indexOf('.') + 1) : id;
        List<String> near = byId.keySet().stream().filter(k -> !head.isEmpty() && k.startsWith(head)).toList();
        throw new IllegalArgumentException("unknown tactic '" + id + "'" + (near.isEmpty() ? "; " + byId.size() + " known (see `tessel tactics`)" : "; did you mean one of " + near + "?"));
    }

    public boolean has(String id) { return byId.containsKey(id); }

    /** The provider that defined a tactic. */
    public String providerOf(String id) { return origin.get(id); }
}
