package org.tessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.io.IdxFiles;
import org.tessel.runtime.Backend;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.engine.EngineFile;
import org.tessel.runtime.engine.EngineHeader;
import org.tessel.runtime.engine.ExecutionContext;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuEngineFile;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Accuracy of a classifier engine on labelled images: top-1 against the labels and, with a reference
 * engine (typically the FP32 engine of the same model), the share of images where both predict the
 * same class and the relative L2 of the logits. This is how a reduced-precision plan (FP16, BF16, INT8,
 * mixed) is judged on real data rather than on random inputs.
 */
@Command(name = "evaluate", description = {"Classify labelled images with an engine: top-1 accuracy, and with --reference another engine's agreement and logits' relative L2.",
        "Images and labels are IDX files (MNIST and Fashion-MNIST's format, gzipped or not: e.g. /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz); "
        + "each image's pixels, times --pixel-scale, fill one sample of the engine's input; the first output holds the class scores [batch, classes]."})
final class EvaluateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ENGINE", description = "An engine file made by `tessel build`.") Path file;
    @Option(names = "--images", required = true, paramLabel = "IDX", description = "Images: an IDX file of [count, ...] unsigned bytes.") Path imagesFile;
    @Option(names = "--labels", required = true, paramLabel = "IDX", description = "Labels: an IDX file of [count] class indices.") Path labelsFile;
    @Option(names = "--reference", paramLabel = "ENGINE", description = "A second engine of the same model (e.g. its FP32 build): agreement of predictions and logits' relative L2.") Path referenceFile;
    @Option(names = "--limit", converter = Ranges.AtLeastOne.class, description = "Only the first N images.") Integer limit;
    @Option(names = "--pixel-scale", defaultValue = "0.00392156862745098", description = "Factor applied to each pixel byte (default 1/255: pixels in [0, 1]).") double pixelScale;
    @Option(names = "--json", description = "Print the result as one JSON object.") boolean json;

    /** One engine, on whichever backend its file was built for. */
    private interface Runner extends AutoCloseable {
        Graph graph();
        List<Tensor> run(List<Tensor> inputs);
        String describe();
        @Override void close();
    }

    private static Runner open(Path f) {
        if (EngineFile.backendOf(f).equals(GpuEngineFile.BACKEND)) {
            Backend b = Backend.detect();
            if (!(b instanceof Backend.Gpu gpu))
                throw new IllegalArgumentException(f + " is a GPU engine, and this machine has no usable GPU (" + b.describe() + "); build a CPU engine with `tessel build ... --cpu`");
            GpuEngine e = GpuEngine.load(f, gpu.context());
            GpuExecutionContext ctx = e.createExecutionContext();
            return new Runner() {
                public Graph graph() { return e.graph(); }
                public List<Tensor> run(List<Tensor> in) { return ctx.run(in); }
                public String describe() { return "cuda " + e.precision().name().toLowerCase(Locale.ROOT); }
                public void close() { ctx.close(); e.close(); }
            };
        }
        Engine e = Engine.load(f, EngineHeader.Machine.cpu());
        ExecutionContext ctx = e.createContext();
        return new Runner() {
            public Graph graph() { return e.graph(); }
            public List<Tensor> run(List<Tensor> in) { return ctx.run(in); }
            public String describe() { return "cpu " + (e.plan() == null ? "fp32" : mix(e.plan().precisionMix())); }
            public void close() { ctx.close(); }
        };
    }

    private static String mix(java.util.Map<org.tessel.cost.Precision, Integer> m) {
        List<String> parts = new ArrayList<>();
        m.forEach((p, n) -> parts.add(p.text() + " x" + n));
        return String.join(", ", parts);
    }

    /** The engine's batch and per-sample input size, checked against the images. */
    private static int batchOf(Graph g, Path f, long pixels, Shape imageShape) {
        if (g.inputs().size() != 1) throw new IllegalArgumentException(f + ": evaluate needs an engine with one input; this one has " + g.inputs().size());
        Value in = g.inputs().get(0);
        if (!in.type().dtype().isFloating())
            throw new IllegalArgumentException(f + ": input '" + in.name() + "' is " + in.type().dtype().text() + "; evaluate feeds floating-point pixels");
        Shape s = in.type().shape();
        if (s.rank() < 1) throw new IllegalArgumentException(f + ": input '" + in.name() + "' is a scalar; evaluate needs a batch dimension first");
        long perSample = s.numElements() / s.dim(0);
        if (perSample != pixels)
            throw new IllegalArgumentException(f + ": input '" + in.name() + "' takes " + s + " (" + perSample + " values per sample); the images are " + imageShape + " (" + pixels + " values each)");
        Value out = g.outputs().get(0);
        if (out.type().rank() != 2 || out.type().shape().dim(0) != s.dim(0))
            throw new IllegalArgumentException(f + ": output '" + out.name() + "' is " + out.type().shape() + "; evaluate needs class scores [batch, classes] as the first output");
        return s.dim(0);
    }

    @Override public Integer call() throws Exception {
        Tensor images = IdxFiles.read(imagesFile), labels = IdxFiles.read(labelsFile);
        if (images.dtype() != DType.U8 || images.shape().rank() < 2)
            throw new IllegalArgumentException(imagesFile + ": expected [count, ...] unsigned bytes (IDX type 0x08), found " + images.dtype().text() + " " + images.shape());
        if (labels.shape().rank() != 1 || !labels.dtype().isInteger())
            throw new IllegalArgumentException(labelsFile + ": expected [count] integer labels, found " + labels.dtype().text() + " " + labels.shape());
        int count = images.shape().dim(0);
        if (labels.shape().dim(0) != count)
            throw new IllegalArgumentException(labelsFile + " has " + labels.shape().dim(0) + " labels and " + imagesFile + " has " + count + " images");
        if (limit != null) count = Math.min(count, limit);
        if (!(pixelScale > 0 && Double.isFinite(pixelScale))) throw new IllegalArgumentException("--pixel-scale must be a positive number; got " + pixelScale);
        long[] pixels = images.longs(), classes = labels.longs();
        int pixelsPerImage = (int) (images.shape().numElements() / images.shape().dim(0));
        Shape imageShape = Shape.of(java.util.Arrays.copyOfRange(images.shape().dims(), 1, images.shape().rank()));
        try (Runner engine = open(file); Runner reference = referenceFile == null ? null : open(referenceFile)) {
            int batch = batchOf(engine.graph(), file, pixelsPerImage, imageShape);
            if (reference != null && batchOf(reference.graph(), referenceFile, pixelsPerImage, imageShape) != batch)
                throw new IllegalArgumentException(referenceFile + " was built for batch " + reference.graph().inputs().get(0).type().shape().dim(0) + " and " + file + " for batch " + batch + "; build both for one batch");
            int numClasses = engine.graph().outputs().get(0).type().shape().dim(1);
            for (int i = 0; i < count; i++)
                if (classes[i] < 0 || classes[i] >= numClasses)
                    throw new IllegalArgumentException(labelsFile + ": label " + i + " is " + classes[i] + ", outside the engine's " + numClasses + " classes");
            Value input = engine.graph().inputs().get(0);
            int correct = 0, agree = 0, refCorrect = 0;
            double diff2 = 0, ref2 = 0, engineSeconds = 0;
            for (int start = 0; start < count; start += batch) {
                int n = Math.min(batch, count - start);
                float[] x = new float[batch * pixelsPerImage]; // a last partial batch is padded with zeros, and its padding's outputs ignored
                for (int i = 0; i < n * pixelsPerImage; i++) x[i] = (float) (pixels[start * pixelsPerImage + i] * pixelScale);
                List<Tensor> in = List.of(Tensor.ofFloats(DType.F32, input.type().shape(), x));
                long t0 = System.nanoTime();
                float[] logits = engine.run(in).get(0).floats();
                engineSeconds += (System.nanoTime() - t0) / 1e9;
                float[] refLogits = reference == null ? null : reference.run(in).get(0).floats();
                for (int i = 0; i < n; i++) {
                    int predicted = argmax(logits, i * numClasses, numClasses);
                    if (predicted == classes[start + i]) correct++;
                    if (refLogits != null) {
                        int refPredicted = argmax(refLogits, i * numClasses, numClasses);
                        if (refPredicted == predicted) agree++;
                        if (refPredicted == classes[start + i]) refCorrect++;
                        for (int k = i * numClasses; k < (i + 1) * numClasses; k++) {
                            double d = logits[k] - refLogits[k];
                            diff2 += d * d;
                            ref2 += (double) refLogits[k] * refLogits[k];
                        }
                    }
                }
            }
            double top1 = (double) correct / count;
            double relL2 = Math.sqrt(diff2 / Math.max(ref2, Double.MIN_NORMAL));
            if (json) {
                java.util.Map<String, Object> doc = new java.util.LinkedHashMap<>();
                doc.put("engine", file.toString());
                doc.put("backend", engine.describe());
                doc.put("images", count);
                doc.put("batch", batch);
                doc.put("correct", correct);
                doc.put("top1", top1);
                doc.put("seconds", engineSeconds);
                if (reference != null) {
                    doc.put("reference", referenceFile.toString());
                    doc.put("reference_top1", (double) refCorrect / count);
                    doc.put("agreement", (double) agree / count);
                    doc.put("logits_rel_l2", relL2);
                }
                System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(doc));
            } else {
                System.out.printf(Locale.ROOT, "%s: %d images, batch %d, backend %s, %.2f s in the engine (%.0f images/s)%n", file, count, batch, engine.describe(), engineSeconds, count / engineSeconds);
                System.out.printf(Locale.ROOT, "top1=%.4f (%d/%d)%n", top1, correct, count);
                if (reference != null)
                    System.out.printf(Locale.ROOT, "reference %s: top1=%.4f; agreement=%.4f (%d/%d) logits_rel_l2=%.3g%n", referenceFile, (double) refCorrect / count,
                            (double) agree / count, agree, count, relL2);
            }
        }
        return 0;
    }

    /** Index of the largest of {@code n} scores from {@code at} (the first of equal ones). */
    static int argmax(float[] v, int at, int n) {
        int best = 0;
        for (int k = 1; k < n; k++) if (v[at + k] > v[at + best]) best = k;
        return best;
    }
}
