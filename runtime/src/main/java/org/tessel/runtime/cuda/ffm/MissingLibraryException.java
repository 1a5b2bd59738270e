package org.tessel.runtime.cuda.ffm;

import java.util.List;

/**
 * A native library could not be loaded: says which library, every name and path tried, and what
 * Tessel cannot do without it.
 */
public final class MissingLibraryException extends RuntimeException {
    private final String library;
    private final List<String> tried;
    private final String disables;

    public MissingLibraryException(String library, List<String> tried, String disables, String lastError) {
        super(library + " not found (tried " + String.join(", ", tried) + (lastError == null ? "" : "; last error: " + lastError)
                + "); this disables " + disables + ". Put its folder on LD_LIBRARY_PATH or in " + NativeLibrary.DIRS_ENV + ".");
        this.library = library;
        this.tried = List.copyOf(tried);
        this.disables = disables;
    }

    public String library() { return library; }
    public List<String> tried() { return tried; }
    public String disables() { return disables; }
}
