package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;

/**
 * Built-in ops: reductions (the Reduce* family, ArgMax, ArgMin), the softmax family, layer and RMS normalization, with
 * ONNX's names, attributes and defaults. Registered through the same OpProvider SPI a plugin uses.
 */
public final class ReduceOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() {
        return List.of(
                SoftmaxOp.softmax(),
                SoftmaxOp.logSoftmax(),
                SoftmaxOp.hardmax(),
                new ArgReduceOp(true),
                new ArgReduceOp(false),
                new LayerNormOp(),
                new RmsNormOp(),
                new ReduceOp("ReduceSum", "sum over axes", ReduceOp.Kind.SUM, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceMean", "mean over axes", ReduceOp.Kind.MEAN, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceMax", "maximum over axes", ReduceOp.Kind.MAX, DTypeSets.ALL),
                new ReduceOp("ReduceMin", "minimum over axes", ReduceOp.Kind.MIN, DTypeSets.ALL),
                new ReduceOp("ReduceProd", "product over axes", ReduceOp.Kind.PROD, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceSumSquare", "sum of squares over axes", ReduceOp.Kind.SUM_SQUARE, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceL1", "sum of absolute values over axes", ReduceOp.Kind.L1, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceL2", "Euclidean norm over axes", ReduceOp.Kind.L2, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceLogSum", "log of the sum over axes", ReduceOp.Kind.LOG_SUM, DTypeSets.WIDE_NUMERIC),
                new ReduceOp("ReduceLogSumExp", "log of the sum of exponentials over axes", ReduceOp.Kind.LOG_SUM_EXP, DTypeSets.WIDE_NUMERIC));
    }
}
