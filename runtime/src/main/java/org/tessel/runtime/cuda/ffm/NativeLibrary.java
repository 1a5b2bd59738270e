package org.tessel.runtime.cuda.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;

/**
 * A shared library found by soname and bound through java.lang.foreign. Each soname is tried as
 * given (the dynamic loader searches LD_LIBRARY_PATH and its cache), then in the folders of
 * {@value #DIRS_ENV} and the usual CUDA folders. Companion libraries (cuDNN 9's sub-libraries)
 * are searched for a symbol the main library lacks. Libraries stay loaded for the JVM's life.
 */
public final class NativeLibrary {
    /** Environment variable: extra folders (colon-separated) to search for CUDA libraries. */
    public static final String DIRS_ENV = "TESSEL_CUDA_LIBS";

    static final List<String> STANDARD_DIRS = List.of(
            "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu",
            "/usr/local/cuda-13.0/lib64", "/usr/local/cuda-13/lib64", "/usr/lib64", "/usr/local/nvidia/lib64");

    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final String path;
    private final SymbolLookup lookup;
    private final List<SymbolLookup> companions;

    private NativeLibrary(String name, String path, SymbolLookup lookup, List<SymbolLookup> companions) {
        this.name = name;
        this.path = path;
        this.lookup = lookup;
        this.companions = companions;
    }

    /**
     * Loads the first of {@code sonames} that opens.
     *
     * @param name     what the library is, for messages ("cuBLASLt")
     * @param disables what Tessel cannot do without it, for the error
     */
    public static NativeLibrary load(String name, String disables, List<String> sonames) throws MissingLibraryException {
        return load(name, disables, sonames, List.of());
    }

    /** As {@link #load(String, String, List)}, also opening whichever of {@code companionSonames} exist. */
    public static NativeLibrary load(String name, String disables, List<String> sonames, List<String> companionSonames) throws MissingLibraryException {
        List<String> tried = new ArrayList<>();
        String lastError = null;
        for (String candidate : candidates(sonames)) {
            tried.add(candidate);
            try {
                SymbolLookup l = SymbolLookup.libraryLookup(candidate, Arena.global());
                List<SymbolLookup> comp = new ArrayList<>();
                for (String c : companionSonames) tryOpen(c).ifPresent(comp::add);
                return new NativeLibrary(name, candidate, l, comp);
            } catch (IllegalArgumentException e) {
                lastError = e.getMessage();
            }
        }
        throw new MissingLibraryException(name, tried, disables, lastError);
    }

    private static Optional<SymbolLookup> tryOpen(String soname) {
        for (String c : candidates(List.of(soname))) {
            try {
                return Optional.of(SymbolLookup.libraryLookup(c, Arena.global()));
            } catch (IllegalArgumentException e) {
                // try the next location
            }
        }
        return Optional.empty();
    }

    /** Each soname bare, then in the configured and standard folders (those that hold it). */
    static List<String> candidates(List<String> sonames) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        List<String> dirs = new ArrayList<>();
        String env = System.getenv(DIRS_ENV);
        if (env != null) for (String d : env.split(":")) if (!d.isBlank()) dirs.add(d);
        dirs.addAll(STANDARD_DIRS);
        for (String s : sonames) {
            out.add(s);
            for (String d : dirs) {
                Path p = Path.of(d, s);
                if (Files.exists(p)) out.add(p.toString());
            }
        }
        return new ArrayList<>(out);
    }

    public String name() { return name; }

    /** The soname or path that was opened. */
    public String path() { return path; }

    public boolean has(String symbol) { return find(symbol).isPresent(); }

    private Optional<MemorySegment> find(String symbol) {
        Optional<MemorySegment> s = lookup.find(symbol);
        for (int i = 0; s.isEmpty() && i < companions.size(); i++) s = companions.get(i).find(symbol);
        return s;
    }

    /** A downcall handle for {@code symbol}; fails naming the library when the symbol is missing. */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        MemorySegment addr = find(symbol).orElseThrow(() -> new IllegalStateException(
                name + " (" + path + ") has no function " + symbol + "; is it a different major version?"));
        return LINKER.downcallHandle(addr, descriptor);
    }
}
