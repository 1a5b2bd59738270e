package org.tessel.plugins;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.tessel.api.OpProvider;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.PluginApi;
import org.tessel.api.PluginException;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticCatalog;
import org.tessel.tactics.TacticProvider;

/**
 * Loads plugin path entries: each entry (a jar, or a folder whose jars form one plugin with its
 * libraries) gets its own class loader, a child of Tessel's; every jar that lists a Tessel provider
 * in {@code META-INF/services} must declare the plugin API version it was built against
 * ({@link PluginApi#MANIFEST_ATTRIBUTE}), checked before any of its classes load; then
 * {@link ServiceLoader} finds the entry's {@link OpProvider}s, {@link TacticProvider}s and
 * {@link AlgorithmSelector}s. Whatever goes wrong is one {@link PluginException} naming the jar:
 * a bad or unreadable jar, a wrong API version, a provider class that is missing, does not link or
 * throws while loading, an op or tactic id or selector name claimed twice (naming both jars), or
 * an id a plugin would take from Tessel's class path.
 */
final class PluginLoader {
    static final List<Class<?>> SPIS = List.of(OpProvider.class, TacticProvider.class, AlgorithmSelector.class);

    /** A jar as read before anything in it loads. */
    private record JarInfo(Path path, String version, String apiVersion, Set<String> services) {
        boolean provides() { return !services.isEmpty(); }
    }

    private final Map<Path, JarInfo> jars = new LinkedHashMap<>();
    private final Map<Path, List<String>> ops = new LinkedHashMap<>(), tactics = new LinkedHashMap<>(), selectorNames = new LinkedHashMap<>(),
            kernels = new LinkedHashMap<>();
    /** Who claimed each op, tactic id and selector name: "jar (provider class)". */
    private final Map<String, String> opOwner = new LinkedHashMap<>(), tacticOwner = new LinkedHashMap<>(), selectorOwner = new LinkedHashMap<>();

    Plugins load(List<Path> entries) {
        List<URLClassLoader> loaders = new ArrayList<>();
        try {
            OpRegistry registry = OpRegistry.classPath();
            TacticCatalog catalog = TacticCatalog.classPath();
            for (String op : registry.names()) opOwner.put(op, "Tessel's class path (" + registry.providerOf(op) + ")");
            for (Tactic t : catalog.all()) tacticOwner.put(t.id(), "Tessel's class path (" + catalog.providerOf(t.id()) + ")");
            List<GuardedSelector> selectors = new ArrayList<>();
            for (Path entry : entries) {
                List<Path> entryJars = new ArrayList<>();
                for (Path j : jarsOf(entry)) if (!jars.containsKey(j)) { jars.put(j, inspect(j)); entryJars.add(j); }
                if (entryJars.isEmpty()) continue;
                URLClassLoader loader = new URLClassLoader("tessel-plugin:" + entry.getFileName(), urls(entryJars), PluginLoader.class.getClassLoader());
                loaders.add(loader);
                for (OpProvider p : providers(OpProvider.class, loader, entryJars)) {
                    String jar = jarOf(p.getClass()), provider = p.getClass().getName();
                    String where = "plugin " + jar + ": op provider " + provider;
                    List<OpSchema> schemas = Guard.call(() -> where + " threw in ops()", p::ops);
                    if (schemas == null) throw new PluginException(where + ": ops() returned null");
                    List<OpSchema> guarded = new ArrayList<>();
                    for (OpSchema s : schemas) {
                        if (s == null) throw new PluginException(where + ": ops() holds a null schema");
                        GuardedOp g = new GuardedOp(s, jar);
                        claim("op", g.qualifiedName(), jar + " (provider " + provider + ")", opOwner);
                        guarded.add(g);
                        ops.computeIfAbsent(codeJar(p.getClass()), k -> new ArrayList<>()).add(g.qualifiedName());
                    }
                    registry = registry.with("plugin " + jar + " (" + provider + ")", guarded);
                }
                for (TacticProvider p : providers(TacticProvider.class, loader, entryJars)) {
                    String jar = jarOf(p.getClass()), provider = p.getClass().getName();
                    String where = "plugin " + jar + ": tactic provider " + provider;
                    List<Tactic> ts = Guard.call(() -> where + " threw in tactics()", p::tactics);
                    if (ts == null) throw new PluginException(where + ": tactics() returned null");
                    List<Tactic> guarded = new ArrayList<>();
                    for (Tactic t : ts) {
                        if (t == null) throw new PluginException(where + ": tactics() holds a null tactic");
                        GuardedTactic g = GuardedTactic.of(t, jar);
                        claim("tactic", g.id(), jar + " (provider " + provider + ")", tacticOwner);
                        guarded.add(g);
                        tactics.computeIfAbsent(codeJar(p.getClass()), k -> new ArrayList<>()).add(g.id());
                        if (g instanceof GuardedCudaTactic c)
                            kernels.computeIfAbsent(codeJar(p.getClass()), k -> new ArrayList<>()).add(g.id() + " -> " + c.kernel().describe());
                    }
                    String name = Guard.call(() -> where + " threw in providerName()", p::providerName);
                    catalog = catalog.with("plugin " + jar + " (" + name + ")", guarded);
                }
                for (AlgorithmSelector s : providers(AlgorithmSelector.class, loader, entryJars)) {
                    String jar = jarOf(s.getClass());
                    GuardedSelector g = new GuardedSelector(s, jar);
                    claim("selector name", g.name(), jar + " (" + s.getClass().getName() + ")", selectorOwner);
                    selectors.add(g);
                    selectorNames.computeIfAbsent(codeJar(s.getClass()), k -> new ArrayList<>()).add(g.name());
                }
            }
            List<PluginJar> listed = new ArrayList<>();
            for (JarInfo j : jars.values())
                listed.add(new PluginJar(j.path(), j.version(), j.provides() ? j.apiVersion() : null, ops.getOrDefault(j.path(), List.of()),
                        tactics.getOrDefault(j.path(), List.of()), selectorNames.getOrDefault(j.path(), List.of()), kernels.getOrDefault(j.path(), List.of())));
            return new Plugins(listed, registry, catalog, selectors, loaders);
        } catch (RuntimeException | Error e) {
            for (URLClassLoader l : loaders) {
                try { l.close(); } catch (IOException closing) { e.addSuppressed(closing); }
            }
            throw e;
        }
    }

    private static void claim(String kind, String id, String who, Map<String, String> owners) {
        String prev = owners.putIfAbsent(id, who);
        if (prev == null) return;
        if (prev.startsWith("Tessel's class path"))
            throw new PluginException(kind + " '" + id + "' of plugin " + who + " is already defined by " + prev + ": a plugin adds " + kind.replace(" name", "") + "s, it cannot replace one");
        throw new PluginException(kind + " '" + id + "' is claimed by two plugins: " + prev + " and " + who);
    }

    /** The jars of one path entry: the jar itself, or a folder's jars in name order. */
    private static List<Path> jarsOf(Path entry) {
        if (Files.isRegularFile(entry)) return List.of(entry);
        if (!Files.isDirectory(entry)) throw new PluginException("no such plugin jar or folder: " + entry);
        try (Stream<Path> s = Files.list(entry)) {
            List<Path> js = s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".jar")).map(p -> p.toAbsolutePath().normalize()).sorted().toList();
            if (js.isEmpty()) throw new PluginException("plugin folder " + entry + " holds no .jar files");
            return js;
        } catch (IOException e) {
            throw new PluginException("cannot list plugin folder " + entry + ": " + e.getMessage(), e);
        }
    }

    /** Reads a jar's manifest and service files; refuses a provider jar built against another plugin API. */
    private static JarInfo inspect(Path jar) {
        try (JarFile f = new JarFile(jar.toFile())) {
            Manifest m = f.getManifest();
            Attributes a = m == null ? new Attributes() : m.getMainAttributes();
            String version = a.getValue(Attributes.Name.IMPLEMENTATION_VERSION);
            if (version == null) version = a.getValue("Bundle-Version");
            Set<String> services = new LinkedHashSet<>();
            for (Class<?> spi : SPIS) if (f.getEntry("META-INF/services/" + spi.getName()) != null) services.add(spi.getName());
            String api = a.getValue(PluginApi.MANIFEST_ATTRIBUTE);
            if (!services.isEmpty()) {
                String why = PluginApi.incompatibility(api);
                if (why != null) throw new PluginException("plugin " + jar.getFileName() + " (" + jar + ") cannot be loaded: " + why);
            }
            return new JarInfo(jar, version, api == null ? null : api.trim(), services);
        } catch (IOException e) {
            throw new PluginException("plugin " + jar + ": not a readable jar: " + e.getMessage(), e);
        }
    }

    private static URL[] urls(List<Path> jars) {
        URL[] out = new URL[jars.size()];
        for (int i = 0; i < out.length; i++) {
            try {
                out[i] = jars.get(i).toUri().toURL();
            } catch (MalformedURLException e) {
                throw new PluginException("plugin " + jars.get(i) + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** The providers of {@code spi} that this entry's jars list (the class path's own are left to the class path), made. */
    private static <S> List<S> providers(Class<S> spi, URLClassLoader loader, List<Path> entryJars) {
        List<S> out = new ArrayList<>();
        Iterator<ServiceLoader.Provider<S>> it = ServiceLoader.load(spi, loader).stream().iterator();
        while (true) {
            ServiceLoader.Provider<S> p;
            try {
                if (!it.hasNext()) break;
                p = it.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                throw new PluginException(listing(spi, entryJars, e) + ": " + Guard.describe(e.getCause() != null ? e.getCause() : e) + Guard.hint(e.getCause() != null ? e.getCause() : e), e);
            }
            Class<? extends S> type;
            try {
                type = p.type();
            } catch (ServiceConfigurationError | LinkageError e) {
                throw new PluginException(listing(spi, entryJars, e) + ": " + Guard.describe(e) + Guard.hint(e), e);
            }
            if (type.getClassLoader() != loader) continue;
            String jar = jarOf(type);
            try {
                out.add(p.get());
            } catch (ServiceConfigurationError e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                if (cause instanceof java.lang.reflect.InvocationTargetException ite && ite.getCause() != null) cause = ite.getCause();
                throw new PluginException("plugin " + jar + ": provider " + type.getName() + " failed to load: " + Guard.describe(cause) + Guard.hint(cause), cause);
            } catch (RuntimeException | LinkageError e) {
                throw new PluginException("plugin " + jar + ": provider " + type.getName() + " failed to load: " + Guard.describe(e) + Guard.hint(e), e);
            }
        }
        return out;
    }

    /** "plugin x.jar: META-INF/services/SPI" for the jar whose service file names the class in the error, else the entry's jars. */
    private static String listing(Class<?> spi, List<Path> entryJars, Throwable e) {
        String file = "META-INF/services/" + spi.getName();
        String msg = String.valueOf(e.getMessage());
        for (Path j : entryJars) {
            try (JarFile f = new JarFile(j.toFile())) {
                var entry = f.getEntry(file);
                if (entry == null) continue;
                String text = new String(f.getInputStream(entry).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                for (String line : text.lines().map(l -> l.replaceAll("#.*", "").trim()).filter(l -> !l.isEmpty()).toList())
                    if (msg.contains(line)) return "plugin " + j.getFileName() + ": " + file + " lists " + line + ", which does not load";
            } catch (IOException ignored) {
                // the jar was readable when inspected; fall through to naming the entry
            }
        }
        return "plugin " + String.join(", ", entryJars.stream().map(p -> p.getFileName().toString()).toList()) + ": " + file;
    }

    /** The file name of the jar a plugin class came from. */
    static String jarOf(Class<?> c) {
        Path p = codeJar(c);
        return p == null ? c.getName() : p.getFileName().toString();
    }

    private static Path codeJar(Class<?> c) {
        var cs = c.getProtectionDomain().getCodeSource();
        if (cs == null || cs.getLocation() == null) return null;
        try {
            return Path.of(cs.getLocation().toURI()).toAbsolutePath().normalize();
        } catch (java.net.URISyntaxException | IllegalArgumentException e) {
            return null;
        }
    }
}
