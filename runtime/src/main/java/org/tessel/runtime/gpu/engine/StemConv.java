package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CnnKernels;
import org.tessel.runtime.gpu.kernels.CudnnConv;

/**
 * The RGB stem of an f16 NHWC engine: a convolution with few input channels (C % 8 != 0, C <= 8) whose input is
 * the network input's nchw-to-nhwc reformat, absorbed ({@link ChannelPad#absorbs}). It runs in one of these forms
 * ({@link Form}), each one kernel reading the NCHW input plus one cuDNN call; the layer reports catalogue tactic
 * {@code tessel.conv.stem} with the form and the cuDNN algorithm as its variant ({@code tessel.conv.stem/nchw_pad4/ALGO}):
 * <ul>
 *   <li>{@code nchw_pad8}: NHWC with channels zero-padded to 8 (16-byte stores), cuDNN on C = 8;</li>
 *   <li>{@code nchw_pad4}: padded to 4 (8-byte stores, C <= 4), cuDNN on C = 4;</li>
 *   <li>{@code nchw_to_nhwc}: NHWC unpadded, cuDNN on C = 3;</li>
 *   <li>{@code nchw_in}: no kernel, cuDNN reads the NCHW input (KCRS filters) and writes NHWC, where cuDNN
 *       accepts the mixed layouts.</li>
 * </ul>
 * With an auto-tuner every form cuDNN takes is built, its convolution algorithm tuned, and the whole form (kernel
 * plus convolution) timed; the fastest is kept, per shape (so per batch). Without one (the fixed rule) {@link #defaultForm}.
 * A plan picks a form by naming it as the variant ({@code tessel.conv.stem/nchw_pad4}); the built layer's tactic names
 * form and algorithm, so later execution contexts and loaded engines replay them.
 */
final class StemConv {
    /** A form of the stem. */
    enum Form {
        PAD8("nchw_pad8"), PAD4("nchw_pad4"), NHWC("nchw_to_nhwc"), NCHW_IN("nchw_in");

        /** The form as a tactic id: {@code tessel.conv.stem/VARIANT} (timed alternatives and recorded choices use it). */
        final String id;
        final String variant;
        Form(String variant) {
            this.variant = variant;
            this.id = GpuTactics.variant(GpuTactics.CONV_STEM, variant);
        }

        /** Channels cuDNN sees for an input of c channels. */
        int channels(int c) { return switch (this) { case PAD8 -> 8; case PAD4 -> 4; case NHWC, NCHW_IN -> c; }; }

        boolean fits(int c) { return this != PAD4 || c <= 4; }

        static Form of(Node owner, String id) {
            for (Form f : values()) if (f.id.equals(id) || f.variant.equals(id)) return f;
            throw GpuEngineException.unsupported(owner, "unknown stem form '" + id + "' (known: " + java.util.Arrays.stream(values()).map(f -> f.id).toList() + ")");
        }
    }

    /**
     * The fixed rule's form: pad4 where it fits (c <= 4), else pad8. Measured on an H200 (ResNet-50 conv1 7x7/2, whole form):
     * pad4 fastest at b1/b32/b256 (10.5 / 73.3 / 487.5 us against pad8's 15.2 / 215.9 / 1323.6 us).
     */
    static Form defaultForm(int c) { return Form.PAD4.fits(c) ? Form.PAD4 : Form.PAD8; }

    private StemConv() {}

    /** True when this convolution is a stem this class builds. */
    static boolean applies(LayerContext e, Node owner, Value x, int groups, Layout layout) {
        Node p = x.producer();
        return e.storage() == DType.F16 && layout == Layout.NHWC && groups == 1 && p != null && ChannelPad.absorbs(e, p);
    }

    /** One built form: its convolution, the buffer its kernel writes (null for NCHW_IN), filters and algorithm. */
    private record Built(Form form, int cp, CudnnConv k, DeviceBuffer buf, DeviceBuffer wb, Cudnn.FwdAlgo algo) {}

    /**
     * Builds the stem; {@code variant} is the planned tactic's variant: {@code FORM[/ALGO]} picks the form (and the
     * cuDNN algorithm), empty leaves them to the auto-tuner (every form that fits, timed) or, without one, to
     * {@link #defaultForm} with IMPLICIT_PRECOMP_GEMM.
     */
    static Layer build(LayerContext e, Node conv, Node owner, Value x, Value w, Value bias, Value residual, ConvLayers.Act act, DeviceBuffer yb, List<String> variant) {
        int[] xd = x.type().shape().dims(), wd = w.type().shape().dims();
        int n = xd[0], c = xd[1], h = xd[2], wi = xd[3];
        Attributes a = conv.attrs();
        long[] strides = a.getInts("strides", new long[] {1, 1}), dil = a.getInts("dilations", new long[] {1, 1}), pads = a.getInts("pads", new long[] {0, 0, 0, 0});
        Value out = owner.output();
        int[] od = out.type().shape().dims();
        DeviceBuffer src = e.activation(x.producer().input(0)); // the network input, NCHW
        long hw = (long) h * wi, pixels = n * hw;
        DeviceBuffer bb = bias != null ? e.weight(bias, Layout.ANY) : e.upload(Tensor.zeros(DType.F32, Shape.of(wd[0])), w, "zero-bias");
        DeviceBuffer zb = residual == null ? null : e.activation(residual);
        boolean relu = act == ConvLayers.Act.RELU || (act.clips() && act.lo() >= 0f);
        String plannedForm = variant.isEmpty() ? null : variant.get(0);
        Cudnn.FwdAlgo plannedAlgo = variant.size() > 1 ? ConvLayers.algoOrNull(variant.get(1)) : null;
        Autotuner tuner = plannedForm != null && plannedAlgo != null ? null : e.tuner();
        List<Form> forms = new ArrayList<>();
        if (plannedForm != null) forms.add(Form.of(owner, plannedForm));
        else if (tuner == null) forms.add(defaultForm(c));
        else for (Form f : Form.values()) if (f.fits(c)) forms.add(f);
        if (forms.size() == 1 && !forms.get(0).fits(c)) throw GpuEngineException.unsupported(owner, forms.get(0).id + " takes at most 4 input channels, the stem has " + c);

        List<Built> built = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        for (Form f : forms) {
            CudnnConv k = null;
            DeviceBuffer buf = null;
            try {
                int cp = f.channels(c);
                CudnnConv.Spec spec = new CudnnConv.Spec(n, cp, h, wi, wd[0], wd[2], wd[3], (int) pads[0], (int) pads[1], (int) strides[0], (int) strides[1],
                        (int) dil[0], (int) dil[1], 1, Layout.NHWC, DType.F16, CudnnConv.Math.FP32_STRICT);
                k = f == Form.NCHW_IN ? CudnnConv.createMixed(e.cudnn(), spec, Layout.NCHW) : CudnnConv.create(e.cudnn(), spec);
                int[] kd = k.outputDims();
                if (!java.util.Arrays.equals(od, kd)) throw GpuEngineException.unsupported(owner, "cuDNN output " + java.util.Arrays.toString(kd) + " differs from the IR's " + out.type().shape());
                DeviceBuffer wb = filters(e, f, w, c, cp);
                if (f != Form.NCHW_IN) {
                    buf = DeviceBuffer.allocate(pixels * cp * 2);
                    buf.fill((byte) 0);
                }
                DeviceBuffer cx = buf == null ? src : buf;
                Cudnn.FwdAlgo algo = plannedAlgo != null ? plannedAlgo
                        : tuner != null ? tuner.conv(k, conv, owner, cx, wb, bb, zb, yb, relu, f.id) : Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM;
                built.add(new Built(f, cp, k, buf, wb, algo));
            } catch (RuntimeException ex) {
                if (k != null) k.close();
                if (buf != null) buf.close();
                if (forms.size() == 1) throw ex instanceof GpuEngineException g ? g : new GpuEngineException("cannot build a GPU engine: " + owner.describe() + ": stem form " + f.id + ": " + ex.getMessage(), ex);
                refused.add(f.id + " (" + ex.getMessage() + ")");
            }
        }
        if (built.isEmpty()) throw GpuEngineException.unsupported(owner, "no stem form ran: " + refused);

        Built chosen = built.get(0);
        if (built.size() > 1) {
            Map<String, java.util.function.BiConsumer<DeviceBuffer, CudaStream>> calls = new LinkedHashMap<>();
            for (Built b : built) {
                long ws = b.k().workspaceSize(b.algo());
                calls.put(b.form().id, (xin, s) -> run(e, b, xin, pixels, hw, c, bb, zb, relu, yb, tuner.workspace(Math.max(ws, GpuEngine.MIN_WORKSPACE_BYTES)), s));
            }
            String id = tuner.fastestOf(owner, conv, calls, src);
            if (id == null) {
                for (Built b : built) close(b);
                throw GpuEngineException.unsupported(owner, "no stem form ran (tried " + calls.keySet() + ")");
            }
            for (Built b : built) if (b.form().id.equals(id)) chosen = b;
        }
        for (Built b : built) if (b != chosen) close(b);
        Built s0 = chosen;
        if (s0.buf() != null) e.keep(s0.buf());
        e.needWorkspace(s0.k().workspaceSize(s0.algo()));
        java.util.function.Supplier<DeviceBuffer> workspace = e.workspace();
        long elems = out.type().numElements();
        String tactic = GpuTactics.variant(s0.form().id, s0.algo().tacticId()) + act.variantSuffix();
        return new Layer() {
            @Override public LayerPlan plan() { return e.plan(owner, tactic, out); }
            @Override public void enqueue(CudaStream s) {
                run(e, s0, src, pixels, hw, c, bb, zb, relu, yb, workspace.get(), s);
                act.apply(e, DType.F16, yb, elems, s);
            }
            @Override public void close() { s0.k().close(); }
        };
    }

    private static void run(LayerContext e, Built b, DeviceBuffer src, long pixels, long hw, int c, DeviceBuffer bb, DeviceBuffer zb, boolean relu,
                            DeviceBuffer yb, DeviceBuffer workspace, CudaStream s) {
        if (b.buf() != null) CnnKernels.stemFromNchw(e.kernels(), src, b.buf(), pixels, hw, c, b.cp(), s);
        b.k().runBiasActivation(b.algo(), b.buf() != null ? b.buf() : src, b.wb(), bb, zb, 1f, relu, yb, workspace, s);
    }

    private static void close(Built b) {
        b.k().close();
        if (b.buf() != null) b.buf().close();
    }

    /** Filters for a form: KRSC zero-padded to cp channels, KRSC, or KCRS for the NCHW input. */
    private static DeviceBuffer filters(LayerContext e, Form f, Value w, int c, int cp) {
        if (f == Form.NCHW_IN) return e.weight(w, Layout.NCHW);
        if (cp == c) return e.weight(w, Layout.NHWC);
        int[] wd = w.type().shape().dims();
        Tensor wt = w.constantValue();
        int k = wd[0], rs = wd[2] * wd[3];
        float[] padded = new float[k * cp * rs];
        for (int ko = 0; ko < k; ko++)
            for (int ci = 0; ci < c; ci++)
                for (int i = 0; i < rs; i++) padded[(ko * cp + ci) * rs + i] = wt.getFloat((ko * c + ci) * rs + i);
        return e.upload(HostTensors.toChannelsLast(Tensor.ofFloats(DType.F32, Shape.of(k, cp, wd[2], wd[3]), padded)), w);
    }
}
