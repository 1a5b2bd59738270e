package org.tessel.runtime.gpu.kernels;

import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.CudaTypes;

/**
 * Tactic {@code tessel.nms.efficient} ({@code nms.cu}): TensorRT's EfficientNMS_TRT, one block of {@value #THREADS}
 * threads per image (count, exact top-4096 selection, bitonic sort in shared memory, greedy walk; see nms.cu), with the
 * semantics of {@code org.tessel.ir.ops.EfficientNmsOp}. Boxes, scores and the floating outputs are f32, f16 or bf16
 * (one type); the count and the classes i32. No workspace: the sorted candidates live in 32 KiB of shared memory.
 */
public final class NmsKernels {
    private NmsKernels() {}

    /** Threads of the block that runs an image. */
    public static final int THREADS = 1024;
    /** The most scores (boxes x classes) an image may have: the kernel's int indices step past the last by a block. */
    public static final long MAX_SCORES_PER_IMAGE = 1L << 30;

    /** The attributes the kernel takes, as the layer checked them. */
    public record Config(int maxOutputBoxes, int backgroundClass, boolean scoreActivation, boolean classAgnostic, boolean centerSize,
                         float keyThreshold, float iouThreshold) {}

    public static String source(DType kind) {
        return KernelCompiler.prelude() + CudaTypes.typedefs("T", kind) + KernelCompiler.resource("nms.cu");
    }

    /** The launch over {@code batch} images of {@code boxes} boxes and {@code classes} classes. */
    public static KernelLaunch launch(int batch, int boxes, int classes, boolean perClassBoxes, Config c) {
        return new KernelLaunch("tessel_efficient_nms", batch, THREADS, boxes, classes, perClassBoxes ? 1 : 0, c.maxOutputBoxes(), c.backgroundClass(),
                c.scoreActivation() ? 1 : 0, c.classAgnostic() ? 1 : 0, c.centerSize() ? 1 : 0, Float.floatToRawIntBits(c.keyThreshold()),
                Float.floatToRawIntBits(c.iouThreshold()));
    }

    private static void check(DeviceBuffer b, long elements, int elementBytes, String what) {
        if (b.bytes() < elements * elementBytes)
            throw new IllegalArgumentException(what + " buffer holds " + b.bytes() + " bytes, needs " + elements + " elements of " + elementBytes + " bytes");
    }

    /** Runs the NMS of every image: boxes [batch, n, 4] (or [batch, n, classes, 4]), scores [batch, n, classes] into the four outputs. */
    public static void run(KernelCompiler kc, DType kind, DeviceBuffer boxes, DeviceBuffer scores, DeviceBuffer num, DeviceBuffer outBoxes, DeviceBuffer outScores,
                           DeviceBuffer outClasses, int batch, int n, int classes, boolean perClassBoxes, Config c, CudaStream s) {
        CudaTypes.require(kind, "EfficientNMS_TRT");
        if ((long) n * classes > MAX_SCORES_PER_IMAGE)
            throw new IllegalArgumentException("nms scores: " + (long) n * classes + " an image, at most " + MAX_SCORES_PER_IMAGE);
        int e = kind.bytes();
        long m = c.maxOutputBoxes();
        check(boxes, (long) batch * n * (perClassBoxes ? classes : 1) * 4, e, "nms boxes");
        check(scores, (long) batch * n * classes, e, "nms scores");
        check(num, batch, 4, "nms num_detections");
        check(outBoxes, batch * m * 4, e, "nms detection_boxes");
        check(outScores, batch * m, e, "nms detection_scores");
        check(outClasses, batch * m, 4, "nms detection_classes");
        if (batch == 0) return;
        KernelLaunch l = launch(batch, n, classes, perClassBoxes, c);
        l.run(kc.kernel("tessel_nms_" + kind.text() + ".cu", () -> source(kind), l.function()), s, boxes, scores, num, outBoxes, outScores, outClasses);
    }
}
