package org.tessel.tactics;

import java.util.List;

/**
 * The plugin SPI for tactics: list an implementation in
 * {@code META-INF/services/org.tessel.tactics.TacticProvider} and {@link TacticCatalog#global()}
 * picks its tactics up. The built-in tactics arrive the same way ({@link BuiltinTactics}).
 */
public interface TacticProvider {
    /** A short name for messages ("tessel-builtin", "my-vendor-kernels"). */
    default String providerName() { return getClass().getName(); }

    List<Tactic> tactics();
}
