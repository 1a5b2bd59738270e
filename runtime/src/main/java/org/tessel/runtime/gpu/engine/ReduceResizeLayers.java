package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.ir.Node;

/**
 * {@code tessel.reduce} (every Reduce* op of floating data, any axes) and
 * {@code tessel.resize} (Resize of H and W, nearest or linear); the checks and kernels are {@link MoreLayers}'.
 * A ReduceMean over the spatial axes of a rank-4 tensor is the rule's {@code tessel.pool.global} ({@link PoolLayers}).
 */
public final class ReduceResizeLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.REDUCE, GpuTactics.RESIZE); }

    @Override public boolean computes(Node n) { return n.opName().equals("Resize") || MoreLayers.REDUCE_OPS.contains(n.opName()); }

    @Override public String ruleTactic(LayerContext c, Node n) {
        if (n.opName().equals("Resize")) return GpuTactics.RESIZE;
        if (!MoreLayers.REDUCE_OPS.contains(n.opName()) || PoolLayers.globalMean(n)) return null;
        return GpuTactics.REDUCE;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, n.opName().equals("Resize") ? GpuTactics.RESIZE : GpuTactics.REDUCE);
        return id.equals(GpuTactics.RESIZE) ? MoreLayers.resize(c, n) : MoreLayers.reduce(c, n);
    }
}
