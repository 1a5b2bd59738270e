package org.tessel.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The version of the plugin API (this module: op schemas, tensors, the {@link OpProvider} and
 * algorithm-selector SPIs, and the tactic SPI built on them), and how a plugin declares the version
 * it was built against: the manifest attribute {@value #MANIFEST_ATTRIBUTE} of its jar, e.g.
 * {@code Tessel-Plugin-Api: 1.0}. Tessel loads a jar whose declared version has this version's
 * major and a minor no newer than this one's; any other jar is refused with a message that says
 * both versions, before any of its classes are loaded.
 */
public final class PluginApi {
    private PluginApi() {}

    /** The manifest attribute a plugin jar declares its API version in. */
    public static final String MANIFEST_ATTRIBUTE = "Tessel-Plugin-Api";

    /** This plugin API's version, MAJOR.MINOR (from the build: the root pom's {@code tessel.plugin.api}). */
    public static final String VERSION = read();

    private static String read() {
        try (InputStream in = PluginApi.class.getResourceAsStream("plugin-api.properties")) {
            if (in == null) throw new IllegalStateException("plugins-api is missing org/tessel/api/plugin-api.properties (a broken build)");
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "");
            if (!v.matches("\\d+\\.\\d+")) throw new IllegalStateException("plugins-api's plugin-api.properties has version '" + v + "', expected MAJOR.MINOR (a broken build)");
            return v;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read plugins-api's plugin-api.properties: " + e.getMessage(), e);
        }
    }

    /**
     * Null when a plugin declaring {@code declared} can be loaded by this API; otherwise why not, in
     * words naming both versions. {@code declared} null means the attribute is missing.
     */
    public static String incompatibility(String declared) {
        if (declared == null || declared.isBlank())
            return "its manifest declares no " + MANIFEST_ATTRIBUTE + " (the plugin API version it was built against; this Tessel implements " + VERSION
                    + "): add '" + MANIFEST_ATTRIBUTE + ": " + VERSION + "' to the jar's manifest";
        String d = declared.trim();
        if (!d.matches("\\d+\\.\\d+"))
            return "its manifest's " + MANIFEST_ATTRIBUTE + " is '" + d + "', not a MAJOR.MINOR version (this Tessel implements " + VERSION + ")";
        int[] want = parts(d), have = parts(VERSION);
        if (want[0] != have[0])
            return "it was built against plugin API " + d + " and this Tessel implements " + VERSION + ": a different major version, so the classes it calls "
                    + (want[0] < have[0] ? "may no longer exist; rebuild it against plugins-api " + VERSION : "do not exist here yet; use a Tessel that implements " + want[0] + ".x");
        if (want[1] > have[1])
            return "it was built against plugin API " + d + ", newer than the " + VERSION + " this Tessel implements: use a Tessel that implements at least " + d;
        return null;
    }

    private static int[] parts(String v) {
        int dot = v.indexOf('.');
        return new int[] {Integer.parseInt(v.substring(0, dot)), Integer.parseInt(v.substring(dot + 1))};
    }
}
