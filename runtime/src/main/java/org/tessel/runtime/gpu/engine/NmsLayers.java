package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.OpException;
import org.tessel.ir.Node;
import org.tessel.ir.ops.EfficientNmsOp;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.kernels.NmsKernels;

/**
 * TensorRT's EfficientNMS_TRT on {@link NmsKernels} ({@code tessel.nms.efficient}): boxes and scores as the engine keeps
 * floating values (the storage type), the count and the classes as the device's i32; channels-first inputs. {@link #config}
 * checks a node without a GPU.
 */
public final class NmsLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.NMS_EFFICIENT); }

    @Override public boolean computes(Node n) { return n.body() == null && n.opName().equals(EfficientNmsOp.QUALIFIED_NAME); }

    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.NMS_EFFICIENT : null; }

    /** The kernel's view of the node's attributes, checked as the op's type inference checks them; throws naming the node. */
    static NmsKernels.Config config(Node n) {
        if (!n.opName().equals(EfficientNmsOp.QUALIFIED_NAME)) throw GpuEngineException.unsupported(n, "op " + n.opName() + " is not EfficientNMS_TRT");
        WindowLayers.requireChannelsFirst(n);
        org.tessel.api.Shape scores = n.input(1).type().shape();
        if ((long) scores.dim(1) * scores.dim(2) > NmsKernels.MAX_SCORES_PER_IMAGE)
            throw GpuEngineException.unsupported(n, "EfficientNMS_TRT of " + (long) scores.dim(1) * scores.dim(2) + " scores an image (supported: up to "
                    + NmsKernels.MAX_SCORES_PER_IMAGE + ")");
        EfficientNmsOp.Params p;
        try {
            p = EfficientNmsOp.params(n.attrs(), n.input(1).type().shape().dim(2));
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        return new NmsKernels.Config(p.maxOutputBoxes(), p.backgroundClass(), p.scoreActivation(), p.classAgnostic(), p.centerSize(), p.keyThreshold(), p.iouThreshold());
    }

    @Override public Layer build(LayerContext e, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, GpuTactics.NMS_EFFICIENT);
        NmsKernels.Config c = config(n);
        DType storage = e.storage();
        int[] sd = n.input(1).type().shape().dims();
        boolean perClass = n.input(0).type().rank() == 4;
        DeviceBuffer boxes = Operands.operand(e, n.input(0)), scores = Operands.operand(e, n.input(1));
        DeviceBuffer num = e.activation(n.output(0)), outBoxes = e.activation(n.output(1)), outScores = e.activation(n.output(2)), outClasses = e.activation(n.output(3));
        return Operands.layer(e, n, id, n.output(0),
                s -> NmsKernels.run(e.kernels(), storage, boxes, scores, num, outBoxes, outScores, outClasses, sd[0], sd[1], sd[2], perClass, c, s));
    }
}
