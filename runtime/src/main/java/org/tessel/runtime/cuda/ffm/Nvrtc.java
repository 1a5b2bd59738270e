package org.tessel.runtime.cuda.ffm;

import static org.tessel.runtime.cuda.ffm.Native.C_INT;
import static org.tessel.runtime.cuda.ffm.Native.C_POINTER;
import static org.tessel.runtime.cuda.ffm.Native.C_SIZE_T;
import static org.tessel.runtime.cuda.ffm.Native.callInt;
import static org.tessel.runtime.cuda.ffm.Native.callPointer;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * NVRTC through java.lang.foreign: compiles CUDA C source to PTX for a virtual architecture
 * ("compute_90"); the driver JIT-compiles the PTX when a module is loaded. A failed compile
 * throws {@link NvrtcException} with NVRTC's log. Signatures follow nvrtc.h (CUDA 12/13).
 */
public final class Nvrtc {
    public static final List<String> SONAMES = List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so");
    public static final String DISABLES = "Tessel's generated GPU kernels (tessel.* tactics: fused elementwise, softmax, layer norm, "
            + "attention, pooling, depthwise conv, reformats, casts)";

    private static volatile Nvrtc instance;

    private final NativeLibrary lib;
    private final MethodHandle version, create, compile, ptxSize, ptx, logSize, log, destroy, errorString;

    private Nvrtc(NativeLibrary lib) {
        this.lib = lib;
        version = lib.function("nvrtcVersion", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        create = lib.function("nvrtcCreateProgram", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER, C_POINTER));
        compile = lib.function("nvrtcCompileProgram", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_POINTER));
        ptxSize = lib.function("nvrtcGetPTXSize", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        ptx = lib.function("nvrtcGetPTX", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        logSize = lib.function("nvrtcGetProgramLogSize", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        log = lib.function("nvrtcGetProgramLog", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        destroy = lib.function("nvrtcDestroyProgram", FunctionDescriptor.of(C_INT, C_POINTER));
        errorString = lib.function("nvrtcGetErrorString", FunctionDescriptor.of(C_POINTER, C_INT));
    }

    /** The process-wide binding; throws {@link MissingLibraryException} when NVRTC is not installed. */
    public static Nvrtc get() {
        Nvrtc n = instance;
        if (n == null) {
            synchronized (Nvrtc.class) {
                if (instance == null) instance = new Nvrtc(NativeLibrary.load("NVRTC", DISABLES, SONAMES));
                n = instance;
            }
        }
        return n;
    }

    public NativeLibrary library() { return lib; }

    /** NVRTC's {major, minor}. */
    public int[] version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ma = a.allocate(C_INT), mi = a.allocate(C_INT);
            check("nvrtcVersion", callInt(version, ma, mi), null);
            return new int[] {ma.get(C_INT, 0), mi.get(C_INT, 0)};
        }
    }

    private String error(int code) { return Native.cString(callPointer(errorString, code)); }

    private void check(String call, int code, String logText) {
        if (code != 0) throw new NvrtcException(call + " failed: " + error(code) + " (" + code + ")", logText);
    }

    /**
     * Compiles {@code source} to PTX.
     *
     * @param programName  the name in NVRTC's messages (e.g. "tessel_softmax.cu")
     * @param arch         virtual architecture, e.g. "compute_90"
     * @param extraOptions further NVRTC options ("-DTILE=32", "--use_fast_math")
     */
    public String compileToPtx(String source, String programName, String arch, List<String> extraOptions) {
        List<String> options = new ArrayList<>();
        options.add("--gpu-architecture=" + arch);
        options.add("--std=c++17");
        options.addAll(extraOptions);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progSlot = a.allocate(C_POINTER);
            check("nvrtcCreateProgram(" + programName + ")",
                    callInt(create, progSlot, a.allocateFrom(source), a.allocateFrom(programName), 0, MemorySegment.NULL, MemorySegment.NULL), null);
            MemorySegment prog = progSlot.get(C_POINTER, 0);
            try {
                MemorySegment opts = a.allocate(C_POINTER, options.size());
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(C_POINTER, i, a.allocateFrom(options.get(i)));
                int rc = callInt(compile, prog, options.size(), opts);
                String logText = programLog(a, prog);
                if (rc != 0)
                    throw new NvrtcException("NVRTC could not compile " + programName + " for " + arch + ": " + error(rc) + " (" + rc + ")", logText);
                MemorySegment size = a.allocate(C_SIZE_T);
                check("nvrtcGetPTXSize(" + programName + ")", callInt(ptxSize, prog, size), logText);
                MemorySegment buf = a.allocate(size.get(C_SIZE_T, 0));
                check("nvrtcGetPTX(" + programName + ")", callInt(ptx, prog, buf), logText);
                return buf.getString(0);
            } finally {
                callInt(destroy, progSlot);
            }
        }
    }

    private String programLog(Arena a, MemorySegment prog) {
        MemorySegment size = a.allocate(C_SIZE_T);
        if (callInt(logSize, prog, size) != 0) return "";
        long n = size.get(C_SIZE_T, 0);
        if (n <= 1) return "";
        MemorySegment buf = a.allocate(n);
        if (callInt(log, prog, buf) != 0) return "";
        return buf.getString(0);
    }
}
