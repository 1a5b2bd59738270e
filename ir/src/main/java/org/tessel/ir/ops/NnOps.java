package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;

/** Built-in ops: Convolution, pooling, GEMM/MatMul/Einsum, normalization, LRN, resize, padding, rotary embedding and attention. Registered through the same OpProvider SPI a plugin uses. */
public final class NnOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() {
        return List.of(
                new ConvOp(), new ConvTransposeOp(),
                new GemmOp(), new MatMulOp(), new EinsumOp(),
                new NormOps.BatchNormalization(), new NormOps.Lrn(),
                new PoolOps.MaxPool(), new PoolOps.AveragePool(), new PoolOps.GlobalAveragePool(),
                new PadOp(), new ResizeOp(),
                new RotaryEmbeddingOps.RotaryEmbedding(),
                new AttentionOp());
    }
}
