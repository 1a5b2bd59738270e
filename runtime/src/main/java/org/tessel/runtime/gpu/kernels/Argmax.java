package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaKernel;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Greedy sampling on the device ({@code argmax.cu}): the index of each row's largest logit, the lowest on a tie, as
 * {@link org.tessel.runtime.llm.Sampler#greedy} picks it on the host, so a greedy decode step downloads one int a row
 * instead of the vocabulary's logits.
 */
public final class Argmax {
    private Argmax() {}

    /** Threads of the one block a row takes. */
    public static final int THREADS = 1024;

    public static String source(DType t) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", t) + KernelCompiler.resource("argmax.cu");
    }

    /** Writes the arg-max of each of the {@code rows} rows of {@code n} logits in {@code t} to {@code out} (an int a row). */
    /** As below, the tokens written into {@code feed} too (an engine's i32 input of one token a row), when it is not null. */
    public static void run(KernelCompiler kc, DType t, DeviceBuffer logits, int rows, int n, DeviceBuffer out, DeviceBuffer feed, CudaStream stream) {
        if (feed != null && feed.bytes() < 4L * rows) throw new IllegalArgumentException("arg-max: " + feed.bytes() + " bytes to feed " + rows + " tokens into");
        launch(kc, t, logits, rows, n, out, feed, stream);
    }

    public static void run(KernelCompiler kc, DType t, DeviceBuffer logits, int rows, int n, DeviceBuffer out, CudaStream stream) {
        launch(kc, t, logits, rows, n, out, null, stream);
    }

    private static void launch(KernelCompiler kc, DType t, DeviceBuffer logits, int rows, int n, DeviceBuffer out, DeviceBuffer feed, CudaStream stream) {
        CudaTypes.require(t, "tessel_argmax logits");
        if (rows < 1 || n < 1) throw new IllegalArgumentException("arg-max of " + rows + " rows of " + n + " logits");
        if (logits.bytes() < (long) rows * n * t.bytes()) throw new IllegalArgumentException("arg-max: " + logits.bytes() + " bytes of logits for " + rows + " x " + n + " " + t.text());
        if (out.bytes() < 4L * rows) throw new IllegalArgumentException("arg-max: " + out.bytes() + " bytes for " + rows + " ints");
        CudaKernel k = kc.kernel("tessel_argmax_" + t.text() + ".cu", () -> source(t), "tessel_argmax");
        k.launch(rows, 1, 1, THREADS, 1, 1, 0, stream, CudaKernel.args().ptr(logits).ptr(out).ptr(feed == null ? 0L : feed.address()).i32(n));
    }
}
