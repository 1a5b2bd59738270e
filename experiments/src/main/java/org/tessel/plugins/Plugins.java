package org.tessel.plugins;

import java.io.File;
import java.io.IOException;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.tessel.api.OpRegistry;
import org.tessel.api.PluginException;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.tactics.TacticCatalog;

/**
 * The plugins one run of Tessel loaded: the jars and what each brought, the op registry and tactic
 * catalogue with their ops and tactics added, and their algorithm selectors. {@link #install} makes
 * the registry and catalogue global for the run; {@link #close} closes the plugins' class loaders.
 */
public final class Plugins implements AutoCloseable {
    /** The environment variable holding a plugin path (entries separated by the platform's path separator). */
    public static final String ENV = "TESSEL_PLUGINS";

    private final List<PluginJar> jars;
    private final OpRegistry registry;
    private final TacticCatalog catalog;
    private final List<GuardedSelector> selectors;
    private final List<URLClassLoader> loaders;

    Plugins(List<PluginJar> jars, OpRegistry registry, TacticCatalog catalog, List<GuardedSelector> selectors, List<URLClassLoader> loaders) {
        this.jars = List.copyOf(jars);
        this.registry = registry;
        this.catalog = catalog;
        this.selectors = List.copyOf(selectors);
        this.loaders = List.copyOf(loaders);
    }

    /** No plugins: the class path's ops and tactics. */
    public static Plugins none() { return new Plugins(List.of(), OpRegistry.classPath(), TacticCatalog.classPath(), List.of(), List.of()); }

    /**
     * The entries of a plugin path: {@code text} split at the platform's path separator (':' here),
     * blanks skipped, each a jar or a folder of jars that must exist. {@code source} names where the
     * path came from ("--plugins", "TESSEL_PLUGINS") for messages.
     */
    public static List<Path> parsePath(String text, String source) {
        List<Path> out = new ArrayList<>();
        if (text == null) return out;
        for (String s : text.split(java.util.regex.Pattern.quote(File.pathSeparator))) {
            if (s.isBlank()) continue;
            Path p = Path.of(s.trim());
            if (!Files.exists(p)) throw new PluginException(source + ": no such plugin jar or folder: " + p);
            if (Files.isRegularFile(p) && !p.getFileName().toString().endsWith(".jar"))
                throw new PluginException(source + ": " + p + " is not a jar (a plugin path lists .jar files and folders of them)");
            out.add(p);
        }
        return out;
    }

    /** Loads the plugins of these path entries (see {@link PluginLoader}); none loads nothing. */
    public static Plugins load(List<Path> entries) {
        List<Path> unique = new ArrayList<>(new LinkedHashSet<>(entries.stream().map(p -> p.toAbsolutePath().normalize()).toList()));
        return unique.isEmpty() ? none() : new PluginLoader().load(unique);
    }

    public List<PluginJar> jars() { return jars; }

    public boolean isEmpty() { return jars.isEmpty(); }

    /** The class path's ops plus the plugins'. */
    public OpRegistry registry() { return registry; }

    /** The class path's tactics plus the plugins'. */
    public TacticCatalog catalog() { return catalog; }

    /** The plugins' selectors (guarded: what they throw names their plugin). */
    public List<AlgorithmSelector> selectors() { return List.copyOf(selectors); }

    /** What {@link #install} returns; closing it restores the globals as they were. */
    public interface Installation extends AutoCloseable {
        @Override void close();
    }

    /** Makes the registry and catalogue with the plugins' additions the global ones until the installation is closed. */
    public Installation install() {
        OpRegistry.Installation ops = OpRegistry.install(registry);
        TacticCatalog.Installation tactics = TacticCatalog.install(catalog);
        return () -> {
            tactics.close();
            ops.close();
        };
    }

    /**
     * The selector {@code spec} names: {@code NAME[:key=value,...]} or {@code CLASS[:key=value,...]},
     * among the class path's selectors (ServiceLoader) and the plugins'; a class name that no
     * provider lists is loaded and made with its public no-argument constructor. Options go to
     * {@link AlgorithmSelector#configure}.
     */
    public AlgorithmSelector selector(String spec) {
        int colon = spec.indexOf(':');
        String name = (colon < 0 ? spec : spec.substring(0, colon)).trim();
        Map<String, String> options = colon < 0 ? Map.of() : options(spec, spec.substring(colon + 1));
        if (name.isEmpty()) throw new PluginException("--selector '" + spec + "': no selector name; expected NAME_OR_CLASS[:key=value,...]");
        List<AlgorithmSelector> known = new ArrayList<>(classPathSelectors());
        known.addAll(selectors);
        List<AlgorithmSelector> byName = known.stream().filter(s -> s.name().equals(name) || className(s).equals(name)).toList();
        if (byName.size() > 1)
            throw new PluginException("--selector '" + name + "' is ambiguous: " + String.join(", ", byName.stream().map(Plugins::describe).toList()) + "; give the class name");
        AlgorithmSelector s = byName.isEmpty() ? byClass(name, known) : byName.getFirst();
        AlgorithmSelector configured;
        try {
            configured = s.configure(options);
        } catch (IllegalArgumentException | PluginException e) {
            throw new PluginException("--selector '" + spec + "': " + e.getMessage(), e);
        }
        if (configured == null) throw new PluginException("--selector '" + spec + "': configure returned null");
        return configured;
    }

    private static Map<String, String> options(String spec, String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : text.split(",")) {
            if (kv.isBlank()) continue;
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new PluginException("--selector '" + spec + "': option '" + kv.trim() + "' is not key=value");
            String k = kv.substring(0, eq).trim();
            if (m.put(k, kv.substring(eq + 1).trim()) != null) throw new PluginException("--selector '" + spec + "': option '" + k + "' given twice");
        }
        return m;
    }

    private static String className(AlgorithmSelector s) {
        return s instanceof GuardedSelector g ? g.unwrap().getClass().getName() : s.getClass().getName();
    }

    private static String describe(AlgorithmSelector s) {
        return "'" + s.name() + "' (" + className(s) + (s instanceof GuardedSelector g ? ", plugin " + g.plugin() : ", class path") + ")";
    }

    private List<AlgorithmSelector> classPathSelectors() {
        List<AlgorithmSelector> out = new ArrayList<>();
        try {
            for (AlgorithmSelector s : ServiceLoader.load(AlgorithmSelector.class, Plugins.class.getClassLoader())) out.add(s);
        } catch (java.util.ServiceConfigurationError e) {
            throw new PluginException("a selector on Tessel's class path failed to load: " + e.getMessage(), e);
        }
        return out;
    }

    private AlgorithmSelector byClass(String name, List<AlgorithmSelector> known) {
        List<ClassLoader> where = new ArrayList<>(loaders);
        where.add(Plugins.class.getClassLoader());
        for (ClassLoader l : where) {
            Class<?> c;
            try {
                c = Class.forName(name, false, l);
            } catch (ClassNotFoundException e) {
                continue;
            } catch (LinkageError e) {
                throw new PluginException("--selector " + name + ": the class does not load: " + Guard.describe(e) + Guard.hint(e), e);
            }
            if (!AlgorithmSelector.class.isAssignableFrom(c))
                throw new PluginException("--selector " + name + ": " + c.getName() + " does not implement " + AlgorithmSelector.class.getName());
            try {
                AlgorithmSelector s = (AlgorithmSelector) c.getConstructor().newInstance();
                return l instanceof URLClassLoader ? new GuardedSelector(s, PluginLoader.jarOf(c)) : s;
            } catch (NoSuchMethodException e) {
                throw new PluginException("--selector " + name + ": " + c.getName() + " has no public no-argument constructor");
            } catch (java.lang.reflect.InvocationTargetException e) {
                throw new PluginException("--selector " + name + ": its constructor threw " + Guard.describe(e.getCause()), e.getCause());
            } catch (ReflectiveOperationException | LinkageError e) {
                throw new PluginException("--selector " + name + ": cannot make one: " + Guard.describe(e), e);
            }
        }
        throw new PluginException("--selector: no selector named '" + name + "'" + (known.isEmpty() ? "; none is loaded"
                : "; loaded: " + String.join(", ", known.stream().map(s -> s.name()).toList()))
                + " (a plugin adds selectors through META-INF/services/" + AlgorithmSelector.class.getName() + "; load it with --plugins or " + ENV + ")");
    }

    @Override public void close() {
        List<String> problems = new ArrayList<>();
        for (URLClassLoader l : loaders) {
            try {
                l.close();
            } catch (IOException e) {
                problems.add(e.getMessage());
            }
        }
        if (!problems.isEmpty()) throw new PluginException("closing plugin class loaders: " + String.join("; ", problems));
    }
}
