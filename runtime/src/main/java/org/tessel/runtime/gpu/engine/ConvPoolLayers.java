package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.fusion.FusionPatterns;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.kernels.ConvPool;
import org.tessel.tactics.conv.ConvPoolTactic;

/**
 * {@code tessel.conv.stem_pool}: a fused {@code conv_pool} group (Conv, a per-channel bias Add, Relu, MaxPool) as
 * {@link ConvPool}'s one kernel, f16. The input is read as it lies: NCHW where it is the network input whose
 * nchw-to-nhwc reformat the layer absorbs ({@link ChannelPad#absorbs}: the reformat layer then does nothing), else in
 * the plan's layout; the output is NHWC. The filters are packed once per engine (taps x channels padded to 4, K to 16),
 * the bias (the Conv's, plus the body's constant Add) uploaded in f32.
 */
public final class ConvPoolLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.CONV_POOL); }

    @Override public boolean computes(Node n) { return isConvPool(n); }

    private static boolean isConvPool(Node n) {
        return n.opName().equals("tessel.Fused") && n.attrs().getString("kind", "").equals(FusionPatterns.CONV_POOL);
    }

    /** No rule makes a conv_pool group (the fuse pass leaves the kind to the search), so one runs on the only kernel that takes it. */
    @Override public String ruleTactic(LayerContext c, Node n) { return computes(n) ? GpuTactics.CONV_POOL : null; }

    /**
     * True when {@code u} is a conv_pool group the plan runs on {@code tessel.conv.stem_pool} in an f16 engine, so it can
     * read the network input in NCHW itself (the stem's reformat absorbed).
     */
    static boolean reads(LayerContext e, Node u) {
        if (!isConvPool(u) || e.storageOf(u.output()) != DType.F16) return false;
        String planned = e.planned(u);
        return planned != null && GpuTactics.parts(planned).get(0).equals(GpuTactics.CONV_POOL);
    }

    /** The group's parts: the Conv, the MaxPool, whether a Relu is in between, and the bias Add's constant (null if none). */
    record Parts(Node conv, Node pool, boolean relu, Value addConstant) {
        static Parts of(Node n) {
            Graph body = n.body();
            if (body == null) throw GpuEngineException.unsupported(n, "tessel.Fused without a body");
            Node conv = null, pool = null;
            boolean relu = false;
            Value add = null;
            for (Node b : body.nodes()) {
                switch (b.opName()) {
                    case "Conv" -> conv = b;
                    case "MaxPool" -> pool = b;
                    case "Relu" -> relu = true;
                    case "Add" -> {
                        Value cur = conv == null ? null : b.input(0).producer() == conv ? b.input(0) : b.input(1).producer() == conv ? b.input(1) : null;
                        Value other = cur == null ? null : b.input(0) == cur ? b.input(1) : b.input(0);
                        if (other == null || !body.inputs().contains(other)) throw GpuEngineException.unsupported(n, "conv_pool body: the Add '" + b.name() + "' does not add a constant to the Conv's result");
                        add = ConvLayers.outer(n, body, other);
                    }
                    default -> throw GpuEngineException.unsupported(n, "conv_pool body op " + b.opName() + " (node '" + b.name() + "') is not Conv, a bias Add, Relu or MaxPool");
                }
            }
            if (conv == null || pool == null) throw GpuEngineException.unsupported(n, "a conv_pool body holds a Conv and a MaxPool");
            if (add != null && (add.constantValue() == null || add.type().numElements() != conv.output().type().shape().dim(1)))
                throw GpuEngineException.unsupported(n, "conv_pool body: the Add's %" + add.name() + " is not a constant of one value per output channel");
            return new Parts(conv, pool, relu, add);
        }
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        String id = GpuTactics.CONV_POOL;
        if (c.precision() != GpuEngine.Precision.FP16)
            throw GpuEngineException.unsupported(n, id + " runs FP16 only (the node is built at " + c.precision().name().toLowerCase(java.util.Locale.ROOT) + ")");
        List<String> parts = GpuTactics.parts(tactic);
        if (parts.size() > 1) throw GpuEngineException.unsupported(n, id + " has no variants (the plan names '" + parts.get(1) + "')");
        Parts p = Parts.of(n);
        String why = ConvPoolTactic.whyNot(p.conv(), p.pool(), n);
        if (why != null) throw GpuEngineException.unsupported(n, id + " " + why);
        Graph body = n.body();
        Value x = ConvLayers.outer(n, body, p.conv().input(0)), w = ConvLayers.outer(n, body, p.conv().input(1));
        Value convBias = p.conv().numInputs() > 2 && p.conv().input(2) != null ? ConvLayers.outer(n, body, p.conv().input(2)) : null;
        Value out = n.output();
        if (c.layoutOf(out) != Layout.NHWC) throw GpuEngineException.unsupported(n, id + " writes NHWC; the plan lays the output out " + c.layoutOf(out).text());
        // the network input under an absorbed reformat is read in NCHW; any other input as the plan lays it out
        Node producer = x.producer();
        boolean absorbed = producer != null && ChannelPad.absorbs(c, producer);
        Value read = absorbed ? producer.input(0) : x;
        boolean nchw = absorbed || c.layoutOf(x) != Layout.NHWC;
        if (c.storageOf(read) != DType.F16) throw GpuEngineException.unsupported(n, id + " reads an f16 input; %" + read.name() + " is stored " + c.storageOf(read).text());
        ConvPool.Geometry g = geometry(n, p, x, w, out);
        DeviceBuffer xb = c.activation(read), yb = c.activation(out);
        DeviceBuffer wb = c.upload(() -> Tensor.ofFloats(DType.F32, Shape.of(g.cout(), ConvPool.kp(g)), ConvPool.packFilters(g, org.tessel.runtime.gpu.HostTensors.toFloats(w.constantValue()))), w, "conv_pool");
        float[] bias = bias(g.cout(), convBias, p.addConstant());
        DeviceBuffer bb = bias == null ? null : c.shared(convBias != null ? convBias : p.addConstant(), "conv_pool-bias-f32" + (p.addConstant() == null ? "" : "+" + p.addConstant().name()), () -> {
            DeviceBuffer b = DeviceBuffer.allocate(4L * bias.length);
            b.copyFrom(bias);
            return b;
        });
        boolean relu = p.relu();
        int blocks = ConvPool.blocks(g, c.kernels().context().device().smCount());
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, id, out); }
            @Override public void enqueue(CudaStream s) { ConvPool.run(c.kernels(), g, xb, nchw, wb, bb, relu, yb, blocks, s); }
        };
    }

    /** The kernel's geometry from the IR's shapes and attributes (the Conv's top/left pads; its output sizes give the rest). */
    private static ConvPool.Geometry geometry(Node n, Parts p, Value x, Value w, Value out) {
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims(), cd = p.conv().output().type().shape().dims(), od = out.type().shape().dims();
        var ca = p.conv().attrs();
        var pa = p.pool().attrs();
        long[] cs = ca.getInts("strides", new long[] {1, 1}), cp = ca.getInts("pads", new long[] {0, 0, 0, 0});
        long[] pk = pa.getInts("kernel_shape", new long[] {1, 1}), ps = pa.getInts("strides", new long[] {1, 1}), pp = pa.getInts("pads", new long[] {0, 0, 0, 0});
        ConvPool.Geometry g;
        try {
            g = new ConvPool.Geometry(xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], (int) cs[0], (int) cs[1], (int) cp[0], (int) cp[1], cd[2], cd[3],
                    (int) pk[0], (int) pk[1], (int) ps[0], (int) ps[1], (int) pp[0], (int) pp[1], od[2], od[3]);
        } catch (IllegalArgumentException e) {
            throw GpuEngineException.unsupported(n, e.getMessage());
        }
        String why = g.whyNot();
        if (why != null) throw GpuEngineException.unsupported(n, GpuTactics.CONV_POOL + " " + why);
        return g;
    }

    /** The Conv's bias plus the body's constant Add, per output channel, or null when there is neither. */
    private static float[] bias(int cout, Value convBias, Value add) {
        if (convBias == null && add == null) return null;
        float[] b = new float[cout];
        for (Value v : new Value[] {convBias, add}) {
            if (v == null) continue;
            Tensor t = v.constantValue();
            for (int i = 0; i < cout; i++) b[i] += t.getFloat(i);
        }
        return b;
    }
}
