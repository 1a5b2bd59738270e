package org.tessel.runtime.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.tessel.runtime.cuda.ffm.Cublas;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.cuda.ffm.MissingLibraryException;
import org.tessel.runtime.cuda.ffm.NativeLibrary;
import org.tessel.runtime.cuda.ffm.Nvrtc;

/**
 * Which of the GPU libraries Tessel binds through java.lang.foreign can be loaded here, and what
 * each missing one disables. A missing library never stops the GPU backend; it removes its tactics.
 */
public final class GpuLibraries {
    /** One library: its name, whether it loaded, the path opened or the reason it did not. */
    public record Status(String name, boolean present, String detail, String disables) {
        @Override public String toString() { return name + ": " + (present ? "loaded from " + detail : "missing (" + detail + ")"); }
    }

    private GpuLibraries() {}

    /** Probes NVRTC, cuBLASLt, cuBLAS and cuDNN 9 by soname. */
    public static List<Status> probe() {
        List<Status> out = new ArrayList<>();
        out.add(probe("NVRTC", Nvrtc.DISABLES, () -> NativeLibrary.load("NVRTC", Nvrtc.DISABLES, Nvrtc.SONAMES)));
        out.add(probe("cuBLASLt", CublasLt.DISABLES, () -> NativeLibrary.load("cuBLASLt", CublasLt.DISABLES, CublasLt.SONAMES)));
        out.add(probe("cuBLAS", Cublas.DISABLES, () -> NativeLibrary.load("cuBLAS", Cublas.DISABLES, Cublas.SONAMES)));
        out.add(probe("cuDNN 9", Cudnn.DISABLES, () -> NativeLibrary.load("cuDNN 9", Cudnn.DISABLES, Cudnn.SONAMES, Cudnn.COMPANIONS)));
        return out;
    }

    private static Status probe(String name, String disables, Supplier<NativeLibrary> load) {
        try {
            return new Status(name, true, load.get().path(), disables);
        } catch (MissingLibraryException e) {
            return new Status(name, false, "tried " + String.join(", ", e.tried()), disables);
        }
    }
}
