package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;

/** Built-in ops: Elementwise arithmetic, activations, comparisons, logic, casts and quantization. Registered through the same OpProvider SPI a plugin uses. */
public final class ElementwiseOps implements OpProvider {
    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() {
        return List.of();
    }
}
