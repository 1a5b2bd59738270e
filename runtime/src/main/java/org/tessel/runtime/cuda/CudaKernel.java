package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.JCudaDriver;

/**
 * A kernel of a loaded module, launched with a typed argument list:
 * <pre>{@code kernel.launch(grid, 1, 1, 256, 1, 1, 0, stream, CudaKernel.args().ptr(x).ptr(y).i32(n));}</pre>
 * Argument kinds must match the kernel's parameters in order; the driver cannot check them.
 */
public final class CudaKernel {
    private final String name;
    private final CUfunction function;

    CudaKernel(String name, CUfunction function) {
        this.name = name;
        this.function = function;
    }

    public String name() { return name; }

    /** A fresh argument list. */
    public static Args args() { return new Args(); }

    /** Kernel arguments in parameter order: device pointers (as 64-bit addresses) and scalars. */
    public static final class Args {
        private final List<Pointer> values = new ArrayList<>();
        private final StringBuilder kinds = new StringBuilder();

        public Args ptr(DeviceBuffer b) { values.add(Pointer.to(new long[] {b.address()})); kinds.append('p'); return this; }
        public Args ptr(long address) { values.add(Pointer.to(new long[] {address})); kinds.append('p'); return this; }
        public Args i32(int v) { values.add(Pointer.to(new int[] {v})); kinds.append('i'); return this; }
        public Args i64(long v) { values.add(Pointer.to(new long[] {v})); kinds.append('l'); return this; }
        public Args f32(float v) { values.add(Pointer.to(new float[] {v})); kinds.append('f'); return this; }

        public int size() { return values.size(); }

        /** One letter per argument: p pointer, i int, l long, f float (for messages). */
        public String signature() { return kinds.toString(); }

        Pointer params() { return Pointer.to(values.toArray(new Pointer[0])); }
    }

    public void launch(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes, CudaStream stream, Args args) {
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 || blockZ <= 0)
            throw new IllegalArgumentException("kernel " + name + ": launch with empty grid or block (" + gridX + "," + gridY + "," + gridZ
                    + ") x (" + blockX + "," + blockY + "," + blockZ + ")");
        int r = JCudaDriver.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes,
                stream.handle(), args.params(), null);
        check("cuLaunchKernel(" + name + ", grid " + gridX + "x" + gridY + "x" + gridZ + ", block " + blockX + "x" + blockY + "x" + blockZ
                + ", smem " + sharedBytes + ", args " + args.signature() + ")", r);
    }

    /** A 1-D launch. */
    public void launch(int grid, int block, int sharedBytes, CudaStream stream, Args args) {
        launch(grid, 1, 1, block, 1, 1, sharedBytes, stream, args);
    }

    /** Raises the dynamic shared-memory limit of this kernel (needed above 48 KiB). */
    public void setMaxDynamicSharedMemory(int bytes) {
        check("cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES)", JCudaDriver.cuFuncSetAttribute(function,
                CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    /** Registers per thread, as the driver's JIT allocated them. */
    public int registers() {
        int[] v = new int[1];
        check("cuFuncGetAttribute(" + name + ", NUM_REGS)", JCudaDriver.cuFuncGetAttribute(v, CUfunction_attribute.CU_FUNC_ATTRIBUTE_NUM_REGS, function));
        return v[0];
    }

    @Override public String toString() { return "CudaKernel(" + name + ")"; }
}
