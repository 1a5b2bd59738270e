package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * {@code tessel.conv.stem_pool}: a fused {@code conv_pool} group (Conv, its bias, ReLU, then MaxPool) as one kernel of
 * Tessel's: each block computes the convolution's outputs a tile of pooled pixels needs (tensor cores, the input patch
 * and the filters in shared memory), keeps them in shared memory and writes only the pooled output. A CNN's stem is its use: ResNet-50's 7x7/2 convolution of 3 channels and 3x3/2 max pool, where a separate
 * convolution writes 64 channels at 112 x 112 that the pool reads back (at batch 256, 411 MB each way at FP16).
 * FP16, NHWC output; the input read as it is laid out (NCHW when it is the network input).
 */
public final class ConvPoolTactic extends BaseTactic {
    /** The catalogue id. */
    public static final String ID = "tessel.conv.stem_pool";
    /** The kernel's limits: input channels, filter side, conv stride, output channels, pool window and stride. */
    public static final int MAX_CHANNELS = 4, MAX_KERNEL = 7, MAX_STRIDE = 2, MAX_COUT = 64, COUT_MULTIPLE = 8, MAX_POOL = 3, MAX_POOL_STRIDE = 2;
    /**
     * mma.sync fed from shared memory, each A register one masked 32-bit load of the input patch, K the filter rows' taps
     * x channels padded to even and to 16 (7x7x3: 147 -> 160), the pool's halo recomputed (17 x 15 conv pixels for 7 x 8
     * pooled ones, 1.14x): an estimate, to be fitted from {@code ConvPoolGpuTest}'s timing.
     */
    static final double TENSOR_EFFICIENCY = 0.3, MEMORY_EFFICIENCY = 0.6;

    private static final Set<String> CONV = Set.of("Conv"), POOL = Set.of("MaxPool"), BODY_OPS = Set.of("Conv", "Add", "Relu", "MaxPool");

    public ConvPoolTactic() {
        super(ID, "Tessel's conv + bias + ReLU + max pool in one kernel (a CNN's RGB stem): tensor cores on shared-memory tiles of the convolution, only the pooled output written; FP16, at most 4 input channels, filters up to 7x7, 64 output channels",
                Backend.GPU, EnumSet.of(Precision.FP16), EnumSet.of(Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return "conv_pool".equals(NodeFacts.fusedKind(n)); }

    @Override protected String appliesToText() { return "fused conv_pool"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node conv = NodeFacts.anchor(n, CONV), pool = NodeFacts.anchor(n, POOL);
        if (conv == null || pool == null) return "a conv_pool group holds a Conv and a MaxPool";
        for (Node b : n.body().nodes())
            if (!BODY_OPS.contains(b.opName())) return "its body takes Conv, a bias Add, Relu and MaxPool (the body holds " + b.opName() + ")";
        return whyNot(conv, pool, n);
    }

    /** Why the kernel cannot run this Conv and MaxPool (null: it can); {@code owner} is the node whose operands must be constant. */
    public static String whyNot(Node conv, Node pool, Node owner) {
        ConvGeometry g = ConvGeometry.of(conv);
        String planar = NodeFacts.planarWhyNot(conv, g);
        if (planar != null) return planar;
        if (g.group() != 1) return "one group only (got group " + g.group() + ")";
        for (long d : g.dilations()) if (d != 1) return "undilated convolutions only (got dilation " + d + ")";
        String operands = NodeFacts.nonConstantConvOperands(owner, conv);
        if (operands != null) return operands;
        String autoPad = pool.attrs().getString("auto_pad", "NOTSET");
        if (!autoPad.equals("NOTSET") && !autoPad.equals("VALID")) return "needs the pool's explicit pads (got auto_pad=" + autoPad + ")";
        long[] k = pool.attrs().getInts("kernel_shape", new long[0]), s = pool.attrs().getInts("strides", new long[] {1, 1}),
                d = pool.attrs().getInts("dilations", new long[] {1, 1}), pads = pool.attrs().getInts("pads", new long[] {0, 0, 0, 0});
        if (k.length != 2) return "a 2-D max pool (got a " + k.length + "-D window)";
        for (long x : d) if (x != 1) return "undilated pools only (got dilation " + x + ")";
        return limitsWhyNot(g.cin(), g.cout(), g.kernel()[0], g.kernel()[1], g.strides()[0], g.strides()[1], k[0], k[1], s[0], s[1], pads[0], pads[1]);
    }

    /**
     * The kernel's limits on channels, filter, conv strides and the pool's window, strides and top/left pads (null: within
     * them). The catalogue ({@link #whyNot}) and the kernel's launcher ({@code ConvPool.Geometry}) both ask this.
     */
    public static String limitsWhyNot(long cin, long cout, long kh, long kw, long sh, long sw, long pkh, long pkw, long psh, long psw, long pph, long ppw) {
        if (cin > MAX_CHANNELS) return "at most " + MAX_CHANNELS + " input channels (got " + cin + ")";
        if (cout > MAX_COUT || cout % COUT_MULTIPLE != 0) return "output channels a multiple of " + COUT_MULTIPLE + " up to " + MAX_COUT + " (got " + cout + ")";
        if (kh > MAX_KERNEL || kw > MAX_KERNEL) return "filters up to " + MAX_KERNEL + "x" + MAX_KERNEL + " (got " + kh + "x" + kw + ")";
        if (sh > MAX_STRIDE || sw > MAX_STRIDE) return "conv strides up to " + MAX_STRIDE + " (got " + sh + "x" + sw + ")";
        if (pkh > MAX_POOL || pkw > MAX_POOL) return "pool windows up to " + MAX_POOL + "x" + MAX_POOL + " (got " + pkh + "x" + pkw + ")";
        if (psh > Math.min(pkh, MAX_POOL_STRIDE) || psw > Math.min(pkw, MAX_POOL_STRIDE))
            return "pool strides up to " + MAX_POOL_STRIDE + " and the window (got " + psh + "x" + psw + " for " + pkh + "x" + pkw + ")";
        if (pph >= pkh || ppw >= pkw) return "pool pads below the window (got " + pph + ", " + ppw + " for " + pkh + "x" + pkw + ")";
        return null;
    }

    /**
     * The model's GEMM price of the convolution (its pixels x output channels x taps; K padding and the pool's halo
     * folded into the efficiency), the group's bytes (the input, the filters, the pooled output: the convolution's
     * output never leaves the chip), one launch.
     */
    @Override public long workspaceBytes(Node n, Precision p) { return 0; }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return new TacticFeatures(TENSOR_EFFICIENCY, true, 128, 64, 16, 1, MEMORY_EFFICIENCY, 1, 1, false);
    }
}
