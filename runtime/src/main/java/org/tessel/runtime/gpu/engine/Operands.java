package org.tessel.runtime.gpu.engine;

import java.util.function.Consumer;
import org.tessel.api.Layout;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;

/** What several tactic families share: operand buffers, integer constants as i32, axis arithmetic, a one-call layer. */
final class Operands {
    private Operands() {}

    /** A device buffer for a value: activations from the arena (or input buffers), constants uploaded in the storage type (integers as i32). */
    static DeviceBuffer operand(LayerContext e, Value v) {
        if (v.isConstant()) {
            if (v.type().dtype().isInteger()) return ints(e, v);
            return e.weight(v, Layout.ANY);
        }
        return e.activation(v);
    }

    /** An integer constant uploaded as i32. */
    static DeviceBuffer ints(LayerContext e, Value v) {
        Tensor c = v.constantValue();
        int[] a = new int[Math.max(1, c.size())];
        for (int i = 0; i < c.size(); i++) {
            long x = c.getLong(i);
            if (x != (int) x) throw new GpuEngineException("constant %" + v.name() + " holds " + x + ", outside the i32 range of device indices");
            a[i] = (int) x;
        }
        return e.shared(v, "i32", () -> {
            DeviceBuffer b = DeviceBuffer.allocate(4L * a.length);
            b.copyFrom(a);
            return b;
        });
    }

    static long prod(int[] d, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= d[i];
        return p;
    }

    /** A normalized axis of a rank-{@code rank} tensor; throws naming the node when out of range. */
    static int axis(Node n, long a, int rank) {
        long x = a < 0 ? a + rank : a;
        if (x < 0 || x >= rank) throw GpuEngineException.unsupported(n, "axis " + a + " is outside a rank-" + rank + " tensor");
        return (int) x;
    }

    /** A layer that runs {@code run} and reports {@code tactic}. */
    static Layer layer(LayerContext e, Node n, String tactic, Value out, Consumer<CudaStream> run) {
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(n, tactic, out); }
            @Override public void enqueue(CudaStream s) { run.accept(s); }
        };
    }

    /** The catalogue id of a planned tactic, checked against the ids a family builds for this node. */
    static String requireOneOf(Node n, String tactic, String... ids) {
        String id = GpuTactics.catalogueId(tactic);
        for (String i : ids) if (i.equals(id)) return id;
        throw GpuEngineException.unsupported(n, "tactic '" + id + "' does not run " + n.opName() + " (its tactics: " + String.join(", ", ids) + ")");
    }
}
