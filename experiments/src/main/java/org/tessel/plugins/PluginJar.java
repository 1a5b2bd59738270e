package org.tessel.plugins;

import java.nio.file.Path;
import java.util.List;

/**
 * What one plugin jar brought, for {@code tessel plugins}.
 *
 * @param jar        the jar file
 * @param version    its own version (manifest Implementation-Version, else Bundle-Version), or null when it states none
 * @param apiVersion the plugin API version it declares it was built against (manifest Tessel-Plugin-Api), or null for a
 *                   jar without providers (a library the plugin uses)
 * @param ops        qualified names of the ops it adds
 * @param tactics    ids of the tactics it adds
 * @param selectors  names of the algorithm selectors it adds
 * @param kernels    its tactics' CUDA C kernels, "tactic -> source: dtype/layout, ..."
 */
public record PluginJar(Path jar, String version, String apiVersion, List<String> ops, List<String> tactics, List<String> selectors, List<String> kernels) {
    public PluginJar {
        ops = List.copyOf(ops);
        tactics = List.copyOf(tactics);
        selectors = List.copyOf(selectors);
        kernels = List.copyOf(kernels);
    }

    /** The jar's file name, as messages name plugins. */
    public String name() { return jar.getFileName().toString(); }
}
