package org.tessel.passes;

import java.util.List;

/**
 * Service-provider interface for passes: list implementations in
 * {@code META-INF/services/org.tessel.passes.PassProvider}. Built-in passes arrive the same way.
 */
public interface PassProvider {
    List<Pass> passes();
}
