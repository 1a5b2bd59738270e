package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.Cast;
import org.tessel.runtime.gpu.kernels.KernelCompiler;
import org.tessel.runtime.gpu.kernels.QuantizeFp8;

/**
 * A layer whose node runs at another precision than some of the activations it reads are stored in: the casts the
 * plan's conversions imply on those edges ({@code tessel.cast}, rounding to nearest even; to int8 {@code tessel.quantize}
 * and from it {@code tessel.dequantize}, to and from E4M3 {@code tessel.quantize_fp8} and {@code tessel.dequantize_fp8},
 * at the tensor's scale), each into a copy in the
 * node's storage type, then the layer itself. The casts belong to the consumer's layer, so a layer profile counts
 * them in its time, and the layer still reports the tactic of its node.
 */
final class CastingLayer implements Layer {
    /**
     * One cast: value {@code value} from {@code src} (stored {@code from}) into {@code dst} as {@code to}; to or from int8
     * or E4M3 it quantizes or dequantizes at the tensor's {@code scale} (unused between floating types).
     */
    record Step(String value, DType from, DType to, DeviceBuffer src, DeviceBuffer dst, long elements, float scale) {}

    private final List<Step> steps;
    private final Layer layer;
    private final KernelCompiler compiler;

    CastingLayer(List<Step> steps, Layer layer, KernelCompiler compiler) {
        this.steps = List.copyOf(steps);
        this.layer = layer;
        this.compiler = compiler;
    }

    /** The casts run before the layer. */
    List<Step> steps() { return steps; }

    @Override public LayerPlan plan() { return layer.plan(); }

    @Override public void enqueue(CudaStream stream) {
        for (Step s : steps) {
            if (s.to() == DType.I8) org.tessel.runtime.gpu.kernels.Quantize.run(compiler, s.from(), s.src(), s.dst(), s.scale(), s.elements(), stream);
            else if (s.from() == DType.I8) org.tessel.runtime.gpu.kernels.Dequantize.run(compiler, s.to(), s.src(), s.dst(), s.scale(), s.elements(), stream);
            else if (s.to() == DType.F8E4M3) QuantizeFp8.quantize(compiler, s.from(), s.src(), s.dst(), s.scale(), s.elements(), stream);
            else if (s.from() == DType.F8E4M3) QuantizeFp8.dequantize(compiler, s.to(), s.src(), s.dst(), s.scale(), s.elements(), stream);
            else Cast.run(compiler, s.from(), s.to(), s.src(), s.dst(), s.elements(), stream);
        }
        layer.enqueue(stream);
    }

    @Override public void close() { layer.close(); }
}
