package org.tessel.runtime.gpu.kernels;

import java.util.Arrays;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;

/**
 * One launch of a kernel whose scalar parameters are all {@code long long}, as its wrapper computes it before any
 * device work: the function, the grid and block sizes and the scalars that follow the kernel's buffers. A pure
 * value, so the kernel tests replay exactly the engine's launch on the host.
 */
public record KernelLaunch(String function, int grid, int block, long... scalars) {
    public KernelLaunch {
        if (grid < 1 || block < 1) throw new IllegalArgumentException(function + ": grid " + grid + " and block " + block + " must be positive");
        scalars = scalars.clone();
    }

    @Override public long[] scalars() { return scalars.clone(); }

    /** Launches {@code k} (this launch's function) with {@code buffers} in the kernel's pointer order, then the scalars. */
    void run(CudaKernel k, CudaStream stream, DeviceBuffer... buffers) {
        CudaKernel.Args a = CudaKernel.args();
        for (DeviceBuffer b : buffers) a.ptr(b);
        for (long s : scalars) a.i64(s);
        k.launch(grid, block, 0, stream, a);
    }

    @Override public boolean equals(Object o) {
        return o instanceof KernelLaunch l && l.function.equals(function) && l.grid == grid && l.block == block && Arrays.equals(l.scalars, scalars);
    }

    @Override public int hashCode() { return function.hashCode() * 31 + Arrays.hashCode(scalars); }

    @Override public String toString() { return function + "<<<" + grid + ", " + block + ">>>" + Arrays.toString(scalars); }
}
