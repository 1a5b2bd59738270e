/**
 * Loading plugins: jars (or folders of jars) given with {@code --plugins} or {@code TESSEL_PLUGINS},
 * each path entry in its own child class loader, their {@link org.tessel.api.OpProvider}s,
 * {@link org.tessel.tactics.TacticProvider}s and {@link org.tessel.api.select.AlgorithmSelector}s
 * found with {@link java.util.ServiceLoader}, checked (declared plugin API version, ids claimed
 * twice, providers that fail to load) and guarded (a plugin's code that throws is named, with its
 * node, in one line), then installed as the global op registry and tactic catalogue.
 */
package org.tessel.plugins;
