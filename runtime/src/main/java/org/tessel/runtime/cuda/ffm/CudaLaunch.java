package org.tessel.runtime.cuda.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The CUDA driver's {@code cuLaunchKernelEx} (CUDA 11.8+), which JCuda 12.6 does not bind, for one launch attribute:
 * programmatic stream serialization, the launch half of programmatic dependent launch (PDL). A kernel launched with it
 * may start while the kernel before it in the stream is still running, once every block of that kernel has executed
 * {@code griddepcontrol.launch_dependents} (or exited); it must execute {@code griddepcontrol.wait}, which returns when
 * the kernel before it has completed and its memory is visible, before it reads or writes anything that kernel touches.
 * Tessel's kernels that do so call the prelude's {@code tessel_pdl()} first thing; the runtime launches those (and only
 * those: {@code CudaModule} finds the wait in each kernel's PTX) through here. Captured into a CUDA graph, the launch
 * becomes a programmatic edge, so a replayed decode step overlaps each kernel's launch with the end of the one before.
 *
 * <p>Struct layouts from cuda.h (64-bit): {@code CUlaunchConfig} is grid x, y, z, block x, y, z, shared bytes (7 unsigned
 * ints), the stream at offset 32, the attribute array at 40, their count at 48 (56 bytes); {@code CUlaunchAttribute}
 * is an id (an int, padded to 8) and a 64-byte value union (72 bytes);
 * {@code CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION} is 6, its value an int (1: allowed).
 */
public final class CudaLaunch {
    private CudaLaunch() {}

    static final int ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    static final long CONFIG_BYTES = 56, ATTRIBUTE_BYTES = 72;

    private static final List<String> SONAMES = List.of("libcuda.so.1", "libcuda.so");
    private static volatile MethodHandle launchEx;
    /** False while a measurement compares launches without PDL ({@link #withoutProgrammaticLaunches}). */
    private static volatile boolean enabled = true;
    private static volatile String unavailable;

    /** True when the driver has {@code cuLaunchKernelEx}; otherwise {@link #unavailable()} says why. */
    public static boolean available() {
        return handle() != null;
    }

    /** True unless a comparison has turned programmatic launches off for a while. */
    public static boolean enabled() { return enabled; }

    /**
     * Runs {@code body} with every kernel launched without programmatic stream serialization (as before PDL), then turns
     * it back on: for a benchmark's A/B of the same engine in the same run (a graph captured inside keeps its launches).
     */
    public static <T> T withoutProgrammaticLaunches(java.util.function.Supplier<T> body) {
        synchronized (CudaLaunch.class) {
            enabled = false;
            try {
                return body.get();
            } finally {
                enabled = true;
            }
        }
    }

    /** Why programmatic launches are not available (null when they are). */
    public static String unavailable() {
        handle();
        return unavailable;
    }

    private static MethodHandle handle() {
        MethodHandle h = launchEx;
        if (h != null || unavailable != null) return h;
        synchronized (CudaLaunch.class) {
            if (launchEx == null && unavailable == null) {
                try {
                    NativeLibrary lib = NativeLibrary.load("the CUDA driver", "programmatic dependent launch", SONAMES);
                    launchEx = lib.function("cuLaunchKernelEx", FunctionDescriptor.of(Native.C_INT, Native.C_POINTER, Native.C_POINTER, Native.C_POINTER, Native.C_POINTER));
                } catch (RuntimeException e) {   // MissingLibraryException, or the symbol missing (a driver before CUDA 11.8)
                    unavailable = "cuLaunchKernelEx is not available: " + e.getMessage();
                }
            }
            return launchEx;
        }
    }

    /**
     * The config struct of one launch with programmatic stream serialization allowed, in {@code arena} (laid out as
     * cuda.h's {@code CUlaunchConfig}, its one attribute after it).
     */
    static MemorySegment config(Arena arena, int[] grid, int[] block, int sharedBytes, long stream) {
        MemorySegment attr = arena.allocate(ATTRIBUTE_BYTES, 8);
        attr.set(ValueLayout.JAVA_INT, 0, ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(ValueLayout.JAVA_INT, 8, 1);
        MemorySegment c = arena.allocate(CONFIG_BYTES, 8);
        for (int i = 0; i < 3; i++) {
            c.set(ValueLayout.JAVA_INT, 4L * i, grid[i]);
            c.set(ValueLayout.JAVA_INT, 12 + 4L * i, block[i]);
        }
        c.set(ValueLayout.JAVA_INT, 24, sharedBytes);
        c.set(ValueLayout.JAVA_LONG, 32, stream);
        c.set(ValueLayout.ADDRESS, 40, attr);
        c.set(ValueLayout.JAVA_INT, 48, 1);
        return c;
    }

    /**
     * Launches {@code function} (a CUfunction's raw handle) on {@code stream} (a raw CUstream, 0 for the default) with
     * programmatic stream serialization; {@code params} is the kernel's parameter array (a pointer per argument to its
     * value), which the driver copies before returning. Returns the driver's CUresult.
     */
    public static int launchProgrammatic(long function, int[] grid, int[] block, int sharedBytes, long stream, MemorySegment params) {
        MethodHandle h = handle();
        if (h == null) throw new IllegalStateException(unavailable);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = config(arena, grid, block, sharedBytes, stream);
            return (int) h.invokeExact(config, MemorySegment.ofAddress(function), params, MemorySegment.NULL);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
