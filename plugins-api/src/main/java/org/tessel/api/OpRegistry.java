package org.tessel.api;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * All known op schemas, keyed by qualified name. {@link #global()} is filled once from every
 * {@link OpProvider} on the class path; two providers that define the same op are an error that
 * names both. The ONNX domain "ai.onnx" is treated as the default domain "".
 */
public final class OpRegistry {
    private final Map<String, OpSchema> ops;
    private final Map<String, String> origin;

    private OpRegistry(Map<String, OpSchema> ops, Map<String, String> origin) {
        this.ops = ops;
        this.origin = origin;
    }

    private static final class Holder {
        static final OpRegistry GLOBAL = load(ServiceLoader.load(OpProvider.class, OpRegistry.class.getClassLoader()));
    }

    private static volatile OpRegistry installed;

    /**
     * The registry every part of Tessel looks ops up in: the class path's providers (found by
     * ServiceLoader), plus the plugins the host installed ({@link #install}).
     */
    public static OpRegistry global() {
        OpRegistry r = installed;
        return r != null ? r : Holder.GLOBAL;
    }

    /** The class path's providers only (built-ins and jars on the class path), whatever is installed. */
    public static OpRegistry classPath() { return Holder.GLOBAL; }

    /** What {@link #install} returns: closing it restores the registry that was global before. */
    public interface Installation extends AutoCloseable {
        @Override void close();
    }

    /**
     * Makes {@code r} (the class path's ops plus plugins' ones) what {@link #global()} returns, until
     * the returned installation is closed. For the host that loads plugins (the command line), not
     * for plugins; installations nest.
     */
    public static Installation install(OpRegistry r) {
        java.util.Objects.requireNonNull(r, "registry");
        OpRegistry before = installed;
        installed = r;
        return () -> installed = before;
    }

    public static OpRegistry load(Iterable<OpProvider> providers) {
        Map<String, OpSchema> ops = new LinkedHashMap<>();
        Map<String, String> origin = new LinkedHashMap<>();
        for (OpProvider p : providers) add(ops, origin, p.providerName(), p.ops());
        return new OpRegistry(ops, origin);
    }

    private static void add(Map<String, OpSchema> ops, Map<String, String> origin, String provider, Collection<OpSchema> schemas) {
        for (OpSchema s : schemas) {
            String key = s.qualifiedName();
            if (ops.containsKey(key))
                throw new IllegalStateException("op '" + key + "' is defined twice: by provider '" + origin.get(key) + "' and by '" + provider + "'");
            ops.put(key, s);
            origin.put(key, provider);
        }
    }

    /** A registry with these extra ops (a test's or plugin's), for use without ServiceLoader. */
    public OpRegistry with(String provider, List<OpSchema> extra) {
        Map<String, OpSchema> o = new LinkedHashMap<>(ops);
        Map<String, String> or = new LinkedHashMap<>(origin);
        add(o, or, provider, extra);
        return new OpRegistry(o, or);
    }

    private static String key(String domain, String name) {
        String d = domain == null || domain.equals("ai.onnx") ? "" : domain;
        return d.isEmpty() ? name : d + "." + name;
    }

    public Optional<OpSchema> find(String domain, String name) { return Optional.ofNullable(ops.get(key(domain, name))); }

    /** Looks up "Name" or "domain.Name". */
    public Optional<OpSchema> find(String qualifiedName) { return Optional.ofNullable(ops.get(qualifiedName)); }

    public OpSchema get(String domain, String name) {
        return find(domain, name).orElseThrow(() -> new UnknownOpException(domain == null ? "" : domain, name, null));
    }

    public OpSchema get(String qualifiedName) {
        OpSchema s = ops.get(qualifiedName);
        if (s != null) return s;
        int dot = qualifiedName.lastIndexOf('.');
        throw dot < 0 ? new UnknownOpException("", qualifiedName, null)
                : new UnknownOpException(qualifiedName.substring(0, dot), qualifiedName.substring(dot + 1), null);
    }

    public Collection<OpSchema> all() { return Collections.unmodifiableCollection(ops.values()); }

    public String providerOf(String qualifiedName) { return origin.get(qualifiedName); }

    public List<String> names() { return new ArrayList<>(ops.keySet()); }
}
