package org.tessel.api;

import java.util.List;

/**
 * Service-provider interface through which ops reach Tessel. Built-in ops use it exactly as a
 * plugin does: list the implementing class in
 * {@code META-INF/services/org.tessel.api.OpProvider} and put the jar on the class path.
 */
public interface OpProvider {
    /** A short name for messages ("tessel-builtin", "my-plugin"). */
    String providerName();

    List<OpSchema> ops();
}
