package org.tessel.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.ffm.MissingLibraryException;
import org.tessel.runtime.cuda.ffm.NativeLibrary;

/** Backend detection and library discovery, on any machine (CI has no GPU). */
class BackendTest {
    @Test void theCpuBackendCanBeForcedAndRunsTheReference() {
        String old = System.getProperty("tessel.backend");
        System.setProperty("tessel.backend", "cpu");
        try {
            Backend b = Backend.probe();
            Backend.Cpu cpu = assertInstanceOf(Backend.Cpu.class, b);
            assertFalse(cpu.isGpu());
            assertTrue(cpu.describe().contains("tessel.backend=cpu"), cpu.describe());
            NetworkBuilder nb = new NetworkBuilder("t");
            Graph g = nb.output(nb.relu(nb.input("x", DType.F32, 3))).build();
            Tensor y = cpu.run(g, Map.of("x", Tensor.ofFloats(Shape.of(3), -1f, 0f, 2f))).get("relu");
            assertEquals(List.of(0f, 0f, 2f), List.of(y.floats()[0], y.floats()[1], y.floats()[2]));
        } finally {
            if (old == null) System.clearProperty("tessel.backend"); else System.setProperty("tessel.backend", old);
        }
    }

    @Test void detectionGivesAReasonWhenThereIsNoGpu() {
        Backend b = Backend.detect();
        assertTrue(b == Backend.detect(), "detection happens once per process");
        if (b instanceof Backend.Cpu cpu) assertFalse(cpu.reason().isBlank());
        else assertTrue(b.describe().startsWith("GPU "), b.describe());
    }

    @Test void aMissingLibrarySaysWhichWhatWasTriedAndWhatItDisables() {
        MissingLibraryException e = assertThrows(MissingLibraryException.class, () -> NativeLibrary.load("cuFoo", "the foo tactics (foo.*)",
                List.of("libtessel_no_such_library.so.7", "libtessel_no_such_library.so")));
        assertEquals("cuFoo", e.library());
        assertTrue(e.getMessage().contains("cuFoo not found"), e.getMessage());
        assertTrue(e.getMessage().contains("libtessel_no_such_library.so.7") && e.getMessage().contains("libtessel_no_such_library.so,")
                || e.getMessage().contains("libtessel_no_such_library.so;") || e.getMessage().contains("libtessel_no_such_library.so)"), e.getMessage());
        assertTrue(e.getMessage().contains("disables the foo tactics (foo.*)"), e.getMessage());
        assertTrue(e.getMessage().contains(NativeLibrary.DIRS_ENV), e.getMessage());
    }

    @Test void theProbeReportsEachGpuLibrary() {
        List<GpuLibraries.Status> s = GpuLibraries.probe();
        assertEquals(List.of("NVRTC", "cuBLASLt", "cuBLAS", "cuDNN 9"), s.stream().map(GpuLibraries.Status::name).toList());
        for (GpuLibraries.Status st : s) {
            assertFalse(st.detail().isBlank());
            assertTrue(st.toString().startsWith(st.name() + ": "), st.toString());
        }
    }

    @Test void aPresentLibraryBindsFunctionsAndNamesMissingSymbols() {
        NativeLibrary libc = NativeLibrary.load("C library", "nothing", List.of("libc.so.6"));
        assertTrue(libc.has("strlen"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> libc.function("tessel_no_such_symbol",
                java.lang.foreign.FunctionDescriptor.ofVoid()));
        assertTrue(e.getMessage().contains("C library") && e.getMessage().contains("tessel_no_such_symbol"), e.getMessage());
    }
}
