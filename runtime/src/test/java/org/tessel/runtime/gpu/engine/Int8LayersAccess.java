package org.tessel.runtime.gpu.engine;

/** Test access to {@link Int8Layers}'s package-private checks from other test packages. */
public final class Int8LayersAccess {
    private Int8LayersAccess() {}

    public static String gemmWhyNot(int k, int n, String activation) { return Int8Layers.gemmWhyNot(k, n, activation); }
}
