package org.tessel.examples.gridsample;

import java.util.List;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;

/** Registers GridSample (listed in META-INF/services/org.tessel.api.OpProvider). */
public final class GridSampleOps implements OpProvider {
    @Override public String providerName() { return "example-gridsample"; }

    @Override public List<OpSchema> ops() { return List.of(new GridSampleOp()); }
}
