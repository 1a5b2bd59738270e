package org.tessel.ir.ops;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;

/** Built-in ops: Shape and data-movement ops: concat, split, slice, reshape, transpose, gather, GatherND, expand, tile, where, constants; Range, Trilu, CumSum, CumProd, OneHot, TopK, ScatterElements, ScatterND; TensorRT's EfficientNMS_TRT (domain TRT). Registered through the same OpProvider SPI a plugin uses. */
public final class TensorOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() {
        List<OpSchema> ops = new ArrayList<>();
        ops.addAll(MoveOps.all());
        ops.addAll(ViewOps.all());
        ops.addAll(ConstantOps.all());
        ops.addAll(IndexOps.all());
        ops.add(new EfficientNmsOp());
        return List.copyOf(ops);
    }
}
