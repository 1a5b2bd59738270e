package org.tessel.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tessel.api.PluginApi;
import org.tessel.plugins.PluginJar;
import org.tessel.plugins.Plugins;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists the plugins this run loaded (--plugins, TESSEL_PLUGINS): per jar its version, the API version it declares, its ops, tactics and selectors. */
@Command(name = "plugins", description = {"List the plugins loaded with --plugins PATH or TESSEL_PLUGINS: per jar its version (manifest), the plugin API it was "
        + "built against, and the ops, tactics (with their CUDA C kernels) and algorithm selectors it adds.",
        "Ends with 'N plugin jars: O ops, T tactics, S selectors (plugin API V)'."})
final class PluginsCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print the list as JSON.") boolean json;

    @Override public Integer call() throws Exception {
        Plugins p = Tessel.plugins();
        List<PluginJar> jars = p.jars();
        int ops = 0, tactics = 0, selectors = 0;
        for (PluginJar j : jars) { ops += j.ops().size(); tactics += j.tactics().size(); selectors += j.selectors().size(); }
        if (json) {
            List<Map<String, Object>> out = new java.util.ArrayList<>();
            for (PluginJar j : jars) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("jar", j.jar().toString());
                m.put("version", j.version());
                m.put("plugin_api", j.apiVersion());
                m.put("ops", j.ops());
                m.put("tactics", j.tactics());
                m.put("selectors", j.selectors());
                m.put("gpu_kernels", j.kernels());
                out.add(m);
            }
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("plugin_api", PluginApi.VERSION);
            doc.put("plugins", out);
            System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc));
            return 0;
        }
        if (jars.isEmpty()) System.out.println("no plugins loaded: give --plugins PATH (jars or folders of jars) or set " + Plugins.ENV);
        for (PluginJar j : jars) {
            System.out.println(j.name() + "  version " + (j.version() == null ? "(none in its manifest)" : j.version())
                    + (j.apiVersion() == null ? "  (library: provides nothing itself)" : "  plugin API " + j.apiVersion()) + "  " + j.jar());
            if (!j.ops().isEmpty()) System.out.println("  ops:       " + String.join(", ", j.ops()));
            if (!j.tactics().isEmpty()) System.out.println("  tactics:   " + String.join(", ", j.tactics()));
            if (!j.selectors().isEmpty()) System.out.println("  selectors: " + String.join(", ", j.selectors()));
            for (String k : j.kernels()) System.out.println("  gpu kernel: " + k + " (CUDA C, " + org.tessel.api.kernel.CudaKernel.ABI + ")");
        }
        System.out.printf("%d plugin jar%s: %d ops, %d tactics, %d selectors (plugin API %s)%n", jars.size(), jars.size() == 1 ? "" : "s", ops, tactics, selectors, PluginApi.VERSION);
        return 0;
    }
}
