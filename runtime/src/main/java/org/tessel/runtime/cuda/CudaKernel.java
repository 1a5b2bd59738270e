package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * A kernel of a loaded module, launched with a typed argument list:
 * <pre>{@code kernel.launch(grid, 1, 1, 256, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(n));}</pre>
 * Argument kinds must match the kernel's parameters in order; the driver cannot check them. The
 * emulated device can: it knows each parameter's type from the compiled kernel and refuses a launch
 * whose arguments differ in number or kind, or whose grid, block or shared memory a GPU of compute
 * capability 9.0 would refuse.
 */
public final class CudaKernel {
    /** Shared memory a kernel may use without raising its limit, and the most an sm_90 block may have. */
    private static final int DEFAULT_SHARED_LIMIT = 48 << 10, MAX_SHARED = 227 << 10;

    private final String name;
    private final CUfunction function;
    /** The emulated kernel's launcher, its parameter kinds (see emulated_shim.h) and device; null on a GPU. */
    private final MethodHandle emulatedLauncher;
    private final String emulatedSignature;
    private final CudaDevice emulator;
    private final CudaModule emulatedModule;
    private int sharedLimit = DEFAULT_SHARED_LIMIT;

    /** A CUfunction whose raw handle this package can read (getNativePointer is protected), for cuLaunchKernelEx. */
    static final class Function extends CUfunction {
        long raw() { return getNativePointer(); }
    }

    /**
     * True for a kernel that waits for the kernel before it itself ({@code griddepcontrol.wait}, the prelude's
     * {@code tessel_pdl()}), launched with programmatic stream serialization (see {@link org.tessel.runtime.cuda.ffm.CudaLaunch}).
     */
    private final boolean programmatic;

    CudaKernel(String name, Function function, boolean programmatic) {
        this.name = name;
        this.function = function;
        this.programmatic = programmatic && org.tessel.runtime.cuda.ffm.CudaLaunch.available();
        this.emulatedLauncher = null;
        this.emulatedSignature = null;
        this.emulator = null;
        this.emulatedModule = null;
    }

    CudaKernel(String name, MethodHandle launcher, String signature, CudaDevice emulator, CudaModule module) {
        this.name = name;
        this.function = null;
        this.programmatic = false;
        this.emulatedLauncher = launcher;
        this.emulatedSignature = signature;
        this.emulator = emulator;
        this.emulatedModule = module;
    }

    public String name() { return name; }

    /** A fresh argument list. */
    public static Args args() { return new Args(); }

    /** Kernel arguments in parameter order: device pointers (as 64-bit addresses) and scalars. */
    public static final class Args {
        private long[] values = new long[8];
        private final StringBuilder kinds = new StringBuilder();

        private Args add(char kind, long bits) {
            if (kinds.length() == values.length) values = Arrays.copyOf(values, values.length * 2);
            values[kinds.length()] = bits;
            kinds.append(kind);
            return this;
        }

        public Args ptr(DeviceBuffer b) { return add('p', b.address()); }
        public Args ptr(long address) { return add('p', address); }
        public Args i32(int v) { return add('i', v & 0xFFFFFFFFL); }
        public Args i64(long v) { return add('l', v); }
        public Args f32(float v) { return add('f', Float.floatToRawIntBits(v) & 0xFFFFFFFFL); }

        public int size() { return kinds.length(); }

        /** One letter per argument: p pointer, i int, l long, f float (for messages). */
        public String signature() { return kinds.toString(); }

        Pointer params() {
            Pointer[] p = new Pointer[size()];
            for (int i = 0; i < p.length; i++)
                p[i] = switch (kinds.charAt(i)) {
                    case 'i' -> Pointer.to(new int[] {(int) values[i]});
                    case 'f' -> Pointer.to(new float[] {Float.intBitsToFloat((int) values[i])});
                    default -> Pointer.to(new long[] {values[i]});
                };
            return Pointer.to(p);
        }

        /**
         * The values as the emulated launcher and cuLaunchKernelEx read them: an 8-byte slot per argument (an int or float
         * in its low 4 bytes) and a pointer to each slot.
         */
        MemorySegment emulatedParams(Arena arena) {
            int n = size();
            MemorySegment slots = arena.allocate(8L * Math.max(1, n), 8), pointers = arena.allocate(8L * Math.max(1, n), 8);
            for (int i = 0; i < n; i++) {
                slots.setAtIndex(ValueLayout.JAVA_LONG, i, values[i]);
                pointers.setAtIndex(ValueLayout.ADDRESS, i, slots.asSlice(8L * i));
            }
            return pointers;
        }

        Args copy() {
            Args a = new Args();
            a.values = values.clone();
            a.kinds.append(kinds);
            return a;
        }
    }

    public void launch(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes, CudaStream stream, Args args) {
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 || blockZ <= 0)
            throw new IllegalArgumentException("kernel " + name + ": launch with empty grid or block (" + gridX + "," + gridY + "," + gridZ
                    + ") x (" + blockX + "," + blockY + "," + blockZ + ")");
        String call = "cuLaunchKernel(" + name + ", grid " + gridX + "x" + gridY + "x" + gridZ + ", block " + blockX + "x" + blockY + "x" + blockZ
                + ", smem " + sharedBytes + ", args " + args.signature() + ")";
        if (emulatedLauncher != null) {
            launchEmulated(call, new int[] {gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes}, stream, args);
            return;
        }
        if (programmatic && org.tessel.runtime.cuda.ffm.CudaLaunch.enabled()) {
            try (Arena arena = Arena.ofConfined()) {
                int r = org.tessel.runtime.cuda.ffm.CudaLaunch.launchProgrammatic(((Function) function).raw(), new int[] {gridX, gridY, gridZ},
                        new int[] {blockX, blockY, blockZ}, sharedBytes, stream.handleAddress(), args.emulatedParams(arena));
                check("cuLaunchKernelEx(" + call.substring("cuLaunchKernel(".length()) + ", programmatic stream serialization", r);
            }
            return;
        }
        int r = JCudaDriver.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes,
                stream.handle(), args.params(), null);
        check(call, r);
    }

    /** True when launches of this kernel let it start before the kernel before it ends (it waits for it itself). */
    public boolean programmatic() { return programmatic; }

    /** Checks a launch as an sm_90 GPU and the kernel's parameter types would, then runs it (or records it under capture). */
    private void launchEmulated(String call, int[] dims, CudaStream stream, Args args) {
        int bx = dims[3], by = dims[4], bz = dims[5], smem = dims[6];
        String bad = null;
        if ((long) bx * by * bz > 1024 || bx > 1024 || by > 1024 || bz > 64) bad = "a block has at most 1024 threads (x, y at most 1024, z at most 64)";
        else if (dims[1] > 65535 || dims[2] > 65535) bad = "grid y and z are at most 65535";
        else if (smem < 0 || smem > sharedLimit) bad = smem + " bytes of dynamic shared memory exceed the kernel's limit of " + sharedLimit
                + (sharedLimit == DEFAULT_SHARED_LIMIT ? " (raise it with setMaxDynamicSharedMemory)" : "");
        else if (!matches(args.signature(), emulatedSignature))
            bad = "the kernel's parameters are (" + describe(emulatedSignature) + "), the launch passes (" + describe(args.signature()) + ")";
        if (bad != null) throw new CudaException(call, CUresult.CUDA_ERROR_INVALID_VALUE, bad);
        Args fixed = args.copy();
        stream.emulate(() -> {
            if (emulatedModule.isClosed()) throw new IllegalStateException("kernel " + name + " launched after its module was closed");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment error = arena.allocate(1024);
                int rc = (int) emulatedLauncher.invokeExact(dims[0], dims[1], dims[2], bx, by, bz, smem, fixed.emulatedParams(arena),
                        emulator.emulatorThreads(), error, (int) error.byteSize());
                if (rc != 0) throw new CudaException(call, CUresult.CUDA_ERROR_LAUNCH_FAILED, error.getString(0, StandardCharsets.UTF_8));
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException(call, CUresult.CUDA_ERROR_LAUNCH_FAILED, t.toString());
            }
        });
    }

    /** Whether Java argument kinds (p, i, l, f) fit the kernel's parameter kinds (emulated_shim.h): an int may fill a narrower integer. */
    static boolean matches(String given, String wanted) {
        if (given.length() != wanted.length()) return false;   // a struct parameter (s<bytes>) never matches: Args passes none
        for (int i = 0; i < given.length(); i++) {
            char g = given.charAt(i), w = wanted.charAt(i);
            if (g != w && !(g == 'i' && (w == 'h' || w == 'b'))) return false;
        }
        return true;
    }

    private static String describe(String kinds) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < kinds.length(); i++) {
            char c = kinds.charAt(i);
            if (sb.length() > 0) sb.append(", ");
            switch (c) {
                case 'p' -> sb.append("pointer");
                case 'i' -> sb.append("int");
                case 'l' -> sb.append("long long");
                case 'f' -> sb.append("float");
                case 'd' -> sb.append("double");
                case 'h' -> sb.append("short");
                case 'b' -> sb.append("char");
                case 's' -> {
                    int e = i + 1;
                    while (e < kinds.length() && Character.isDigit(kinds.charAt(e))) e++;
                    sb.append("a ").append(kinds, i + 1, e).append("-byte struct");
                    i = e - 1;
                }
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    /** A 1-D launch. */
    public void launch(int grid, int block, int sharedBytes, CudaStream stream, Args args) {
        launch(grid, 1, 1, block, 1, 1, sharedBytes, stream, args);
    }

    /**
     * Raises the dynamic shared-memory limit of this kernel (needed above 48 KiB); a call that asks for the limit already
     * set does nothing (so a launcher may call it before every launch, inside a CUDA graph's capture too).
     */
    public void setMaxDynamicSharedMemory(int bytes) {
        if (bytes == sharedLimit) return;
        String call = "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES)";
        if (emulatedLauncher != null) {
            if (bytes < 0 || bytes > MAX_SHARED) throw new CudaException(call, CUresult.CUDA_ERROR_INVALID_VALUE, bytes + " bytes exceed sm_90's " + MAX_SHARED);
            sharedLimit = bytes;
            return;
        }
        check(call, JCudaDriver.cuFuncSetAttribute(function, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
        sharedLimit = bytes;
    }

    /** Registers per thread, as the driver's JIT allocated them (the emulated device has none to report and refuses). */
    public int registers() {
        if (emulatedLauncher != null) throw new CudaException("cuFuncGetAttribute(" + name + ", NUM_REGS) is not available on the emulated device");
        int[] v = new int[1];
        check("cuFuncGetAttribute(" + name + ", NUM_REGS)", JCudaDriver.cuFuncGetAttribute(v, CUfunction_attribute.CU_FUNC_ATTRIBUTE_NUM_REGS, function));
        return v[0];
    }

    @Override public String toString() { return "CudaKernel(" + name + (emulatedLauncher != null ? ", emulated" : "") + ")"; }
}
