package org.tessel.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.tessel.api.PluginApi;

/**
 * Builds plugin jars in tests, as a third party would: Java sources compiled against Tessel's
 * classes with the JDK's compiler, packed with their {@code META-INF/services} files and a manifest.
 * The classes are not on the test's class path, so only {@code --plugins} can load them.
 */
final class PluginJars {
    private final Path dir;
    private final Map<String, String> sources = new LinkedHashMap<>();
    private final Map<String, List<String>> services = new LinkedHashMap<>();
    private final Map<String, String> manifest = new LinkedHashMap<>();
    private final List<String> leaveOut = new ArrayList<>();

    private PluginJars(Path dir) {
        this.dir = dir;
        manifest.put(PluginApi.MANIFEST_ATTRIBUTE, PluginApi.VERSION);
    }

    static PluginJars in(Path dir) { return new PluginJars(dir); }

    /** A class to compile: its fully qualified name and source. */
    PluginJars source(String className, String source) { sources.put(className, source); return this; }

    /** Lists {@code className} in META-INF/services/{@code spi}. */
    PluginJars service(Class<?> spi, String className) { services.computeIfAbsent(spi.getName(), k -> new ArrayList<>()).add(className); return this; }

    /** A main manifest attribute; a null value removes it (the API version is set by default). */
    PluginJars manifest(String name, String value) {
        if (value == null) manifest.remove(name); else manifest.put(name, value);
        return this;
    }

    /** Compiles {@code className} (to link against) but leaves it out of the jar. */
    PluginJars leaveOut(String className) { leaveOut.add(className); return this; }

    Path jar(String name) throws IOException {
        Path src = Files.createTempDirectory(dir, name + "-src"), classes = Files.createTempDirectory(dir, name + "-classes");
        List<String> files = new ArrayList<>();
        for (var e : sources.entrySet()) {
            Path f = src.resolve(e.getKey().replace('.', '/') + ".java");
            Files.createDirectories(f.getParent());
            Files.writeString(f, e.getValue());
            files.add(f.toString());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", classPath(), "--release", "25", "-proc:none"));
        args.addAll(files);
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        if (javac.run(null, null, err, args.toArray(String[]::new)) != 0) throw new IllegalStateException("test plugin " + name + " does not compile:\n" + err);
        for (String c : leaveOut) Files.delete(classes.resolve(c.replace('.', '/') + ".class"));
        Path jar = dir.resolve(name + ".jar");
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.forEach((k, v) -> m.getMainAttributes().putValue(k, v));
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os, m)) {
            for (var e : services.entrySet()) {
                out.putNextEntry(new JarEntry("META-INF/services/" + e.getKey()));
                out.write((String.join("\n", e.getValue()) + "\n").getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
            try (Stream<Path> all = Files.walk(classes)) {
                for (Path f : all.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                    out.write(Files.readAllBytes(f));
                    out.closeEntry();
                }
            }
        }
        return jar;
    }

    /** Where Tessel's own classes are (plugins-api, ir, cost-model, tactic-library), to compile plugins against. */
    static String classPath() {
        List<String> out = new ArrayList<>();
        for (Class<?> c : List.of(org.tessel.api.OpProvider.class, org.tessel.ir.Node.class, org.tessel.cost.CostModel.class, org.tessel.tactics.Tactic.class))
            try {
                out.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        return String.join(java.io.File.pathSeparator, out);
    }
}
