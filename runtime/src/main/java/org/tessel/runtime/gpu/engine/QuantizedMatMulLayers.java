package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpException;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.QuantizedMatMulOps;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.CublasLt;
import org.tessel.runtime.engine.LayerPlan;
import org.tessel.runtime.gpu.HostTensors;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.EltwiseCodegen;
import org.tessel.runtime.gpu.kernels.Gemv;
import org.tessel.runtime.gpu.kernels.W8A8Gemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemm;
import org.tessel.runtime.gpu.kernels.WeightOnlyGemv;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.tactics.gemm.GemvTactic;

/**
 * The LLM quantized MatMuls as Tessel's kernels: {@code tessel.WeightOnlyMatMul} by the decode GEMV
 * ({@link WeightOnlyGemv}) or the tiled GEMM ({@link WeightOnlyGemm}), {@code tessel.W8A8MatMul} by the dp4a GEMM
 * ({@link W8A8Gemm}). The activation runs in the layer's storage type; the codes, scales and zero points are uploaded
 * once per engine exactly as stored (bytes, and scales in their own type), never widened. The GEMV also runs fused groups
 * anchored on a {@code tessel.WeightOnlyMatMul} as {@code GemvLayers} runs a MatMul's: an eltwise_gemm's tree generated
 * into the x loader, an rmsnorm_gemm's norm (x read as the norm's input, its scale uploaded in the storage type and
 * multiplied into x as it is loaded), a gemm_bias_act's bias and residual added in the epilogue. Without a plan the rule
 * takes the GEMV wherever the catalogue's GEMV supports the node (the decode step), else the GEMM.
 *
 * <p>The GEMM's form ({@link WeightOnlyGemm.Form}: tiled, mma or dequant) is the tactic's variant, priced apart by the search:
 * the plan's form runs ({@code tessel.gemm.weight_only/mma}), the tiled one where the plan names none; a form that
 * cannot run the node is refused naming it. The layer reports the form it runs.
 *
 * <p>The GEMV's kernel form ({@link WeightOnlyGemv.Form}) is the tactic's variant: the form a plan names
 * ({@code tessel.gemv.weight_only/mma}) runs, refused naming the node where it is no form or cannot run it (checked before
 * any GPU work by {@link #variantWhyNot}); with no variant the auto-tuner times every form that runs the node and keeps
 * the fastest, or, without one, {@link WeightOnlyGemv#form} is the default. The layer reports the form it runs
 * ({@code tessel.gemv.weight_only/staged}), so later execution contexts and loaded engines replay it.
 */
public final class QuantizedMatMulLayers implements TacticImplementation {
    @Override public List<String> tacticIds() { return List.of(GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY, GpuTactics.GEMM_W8A8); }

    @Override public boolean computes(Node n) {
        if (n.body() != null) return GemmTactics.WEIGHT_ONLY_GEMV.appliesTo(n);
        return n.opName().equals(QuantizedMatMulOps.WEIGHT_ONLY) || n.opName().equals(QuantizedMatMulOps.W8A8);
    }

    @Override public String ruleTactic(LayerContext c, Node n) {
        if (!computes(n)) return null;
        if (n.body() != null) return GemmTactics.WEIGHT_ONLY_GEMV.whyNot(n, Precision.FP32, Layout.ANY) == null ? GpuTactics.GEMV_WEIGHT_ONLY : null;
        if (n.opName().equals(QuantizedMatMulOps.W8A8)) return GpuTactics.GEMM_W8A8;
        // the GEMV's limits (rows, 16-byte chunks) do not depend on the float precision it runs at
        return GemmTactics.WEIGHT_ONLY_GEMV.whyNot(n, Precision.FP32, Layout.ANY) == null ? GpuTactics.GEMV_WEIGHT_ONLY : GpuTactics.GEMM_WEIGHT_ONLY;
    }

    @Override public Layer build(LayerContext c, Node n, String tactic) {
        String id = Operands.requireOneOf(n, tactic, GpuTactics.GEMV_WEIGHT_ONLY, GpuTactics.GEMM_WEIGHT_ONLY, GpuTactics.GEMM_W8A8);
        String why = (switch (id) {
            case GpuTactics.GEMV_WEIGHT_ONLY -> GemmTactics.WEIGHT_ONLY_GEMV;
            case GpuTactics.GEMM_WEIGHT_ONLY -> GemmTactics.WEIGHT_ONLY_GEMM;
            default -> GemmTactics.W8A8_GEMM;
        }).whyNot(n, Precision.FP32, Layout.ANY);
        if (why != null) throw GpuEngineException.unsupported(n, id + " " + why);
        List<String> parts = GpuTactics.parts(tactic);
        String none = noVariants(parts);
        if (none != null) throw GpuEngineException.unsupported(n, none);
        return id.equals(GpuTactics.GEMM_W8A8) ? w8a8(c, n) : weightOnly(c, n, id, parts.subList(1, parts.size()));
    }

    /** Why a planned variant of the W8A8 GEMM (one kernel, no variants) cannot be built, or null. */
    private static String noVariants(List<String> parts) {
        if (parts.size() == 1 || !parts.get(0).equals(GpuTactics.GEMM_W8A8)) return null;
        return parts.get(0) + " has one kernel and no variants, so its planned variant '" + String.join("/", parts.subList(1, parts.size())) + "' names nothing it runs";
    }

    @Override public String variantWhyNot(Node n, String tactic, GpuEngine.Precision p) {
        List<String> parts = GpuTactics.parts(tactic);
        if (parts.size() > 1 && noVariants(parts) != null) return noVariants(parts);
        if (parts.size() == 1 || !computes(n)) return null;
        WeightOnly o;
        try {
            o = WeightOnly.of(n);
        } catch (OpException e) {
            return null; // the build refuses the node's shapes, whatever the form
        }
        List<String> variant = parts.subList(1, parts.size());
        if (parts.get(0).equals(GpuTactics.GEMM_WEIGHT_ONLY)) return gemmFormWhyNot(variant, p.storage(), o.group(), o.d().k());
        return formWhyNot(variant, p.storage(), o.bits(), o.z() != null, o.group(), o.d().m(), o.d().k());
    }

    /** Why {@code variant} (the parts after the GEMM's id) names no form that runs a GEMM of K={@code k} in activations {@code t} (null: it names one). */
    private static String gemmFormWhyNot(List<String> variant, DType t, int group, int k) {
        WeightOnlyGemm.Form f = variant.size() == 1 ? WeightOnlyGemm.Form.ofVariant(variant.get(0)) : null;
        if (f == null)
            return "variant '" + String.join("/", variant) + "' of " + GpuTactics.GEMM_WEIGHT_ONLY + " names no form of its kernel (its forms: "
                    + String.join(", ", Arrays.stream(WeightOnlyGemm.Form.values()).map(x -> x.variant).toList()) + ")";
        String why = WeightOnlyGemm.formWhyNot(f, t, k, group);
        return why == null ? null : "the " + f.variant + " form cannot run it: " + why;
    }

    /**
     * Why {@code variant} (the parts after the GEMV's id) names no form that runs a GEMV of {@code m} rows and K={@code k}
     * in activations {@code t} (null: it names one).
     */
    private static String formWhyNot(List<String> variant, DType t, int bits, boolean zeroPoints, int group, int m, int k) {
        WeightOnlyGemv.Form f = variant.size() == 1 ? WeightOnlyGemv.Form.ofVariant(variant.get(0)) : null;
        if (f == null)
            return "variant '" + String.join("/", variant) + "' of " + GpuTactics.GEMV_WEIGHT_ONLY + " names no form of its kernel (its forms: "
                    + String.join(", ", Arrays.stream(WeightOnlyGemv.Form.values()).map(x -> x.variant).toList()) + ")";
        String why = WeightOnlyGemv.formWhyNot(f, t, bits, zeroPoints, group, k, WeightOnlyGemv.rowsPerPass(m));
        return why == null ? null : "the " + f.variant + " form cannot run it: " + why;
    }

    /** A {@code tessel.WeightOnlyMatMul}'s operands: the MatMul (the node, or a fused group's anchor), its constants as the node reads them, bits, group size and dims. */
    private record WeightOnly(Node mm, Value w, Value s, Value z, int bits, int group, QuantizedMatMulOps.Dims d) {
        /** The operands of {@code n}; throws where their shapes do not fit the op. */
        static WeightOnly of(Node n) throws OpException {
            Node mm = n.body() == null ? n : NodeFacts.anchor(n, Set.of(QuantizedMatMulOps.WEIGHT_ONLY));
            int bits = (int) mm.attrs().getInt("bits", 0), group = (int) mm.attrs().getInt("group_size", 0);
            Value w = GemvGroup.outer(n, mm.input(1)), s = GemvGroup.outer(n, mm.input(2)), z = mm.input(3) == null ? null : GemvGroup.outer(n, mm.input(3));
            return new WeightOnly(mm, w, s, z, bits, group, QuantizedMatMulOps.WeightOnlyMatMul.check(mm.input(0).type(), w.type(), s.type(), z == null ? null : z.type(), bits, group));
        }
    }

    /** The weight-only GEMV or GEMM of {@code n}; {@code variant}: the planned tactic's parts after its id (the GEMV's form, or none). */
    private static Layer weightOnly(LayerContext c, Node n, String id, List<String> variant) {
        WeightOnly o;
        try {
            o = WeightOnly.of(n);
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, id + ": " + e.getMessage());
        }
        Value s = o.s();
        int bits = o.bits(), group = o.group(), m = o.d().m(), cols = o.d().n(), k = o.d().k();
        DType t = c.storage(), scaleType = s.type().dtype();
        boolean gemv = id.equals(GpuTactics.GEMV_WEIGHT_ONLY);
        if (!variant.isEmpty()) {
            String why = gemv ? formWhyNot(variant, t, bits, o.z() != null, group, m, k) : gemmFormWhyNot(variant, t, group, k);
            if (why != null) throw GpuEngineException.unsupported(n, why);
        }
        DeviceBuffer y = c.activation(n.output());
        DeviceBuffer codes = bytes(c, o.w()), scales = c.shared(s, "scales:" + scaleType.text(), () -> HostTensors.upload(s.constantValue(), scaleType));
        DeviceBuffer zeros = o.z() == null ? null : bytes(c, o.z());
        if (!gemv) {
            DeviceBuffer x = c.activation(n.input(0));
            WeightOnlyGemm.Form form = variant.isEmpty() ? WeightOnlyGemm.Form.TILED : WeightOnlyGemm.Form.ofVariant(variant.get(0));
            if (form == WeightOnlyGemm.Form.DEQUANT) return dequant(c, n, id, t, scaleType, bits, group, m, cols, k, x, codes, scales, zeros, y);
            int slice = form == WeightOnlyGemm.Form.MMA ? WeightOnlyGemm.mmaSlice(k, group) : WeightOnlyGemm.MMA_SLICE;
            return Operands.layer(c, n, GpuTactics.variant(id, form.variant), n.output(),
                    st -> WeightOnlyGemm.run(c.kernels(), t, scaleType, bits, group, m, cols, k, x, codes, scales, zeros, y, st, form, slice));
        }
        // the tactic checked the group's body as tessel.gemv's: a norm or an elementwise tree before the product, Adds after it
        GemvGroup g = GemvGroup.of(n, o.mm(), t);
        List<DeviceBuffer> x = g.xs().stream().map(c::activation).toList();
        // the norm's scale multiplies x in the loader: the weights are already quantized
        DeviceBuffer gamma = g.normScale() == null ? null : c.weight(g.normScale(), Layout.ANY);
        DeviceBuffer bb = g.bias() == null ? null : c.weight(g.bias(), Layout.ANY), rb = g.residual() == null ? null : c.activation(g.residual());
        // the form: the plan's, else the fastest the tuner measures of those that run the node, else the default
        int rows = WeightOnlyGemv.rowsPerPass(m);
        Autotuner tuner = c.tuner();
        List<WeightOnlyGemv.Form> forms = !variant.isEmpty() ? List.of(WeightOnlyGemv.Form.ofVariant(variant.get(0)))
                : tuner == null ? List.of(WeightOnlyGemv.form(t, bits, zeros != null, group, k, rows)) : WeightOnlyGemv.forms(t, bits, zeros != null, group, k, rows);
        WeightOnlyGemv.Form form = forms.get(0);
        if (forms.size() > 1) {
            // each form timed whole on the tuner's rotated copies of x (a prologue's first input); the default first, the one
            // kept where the tuner times none
            Map<String, BiConsumer<DeviceBuffer, CudaStream>> calls = new LinkedHashMap<>();
            for (WeightOnlyGemv.Form f : forms)
                calls.put(GpuTactics.variant(id, f.variant), (x0, st) -> {
                    List<DeviceBuffer> xs = new ArrayList<>(x);
                    xs.set(0, x0);
                    WeightOnlyGemv.launch(c.kernels(), t, scaleType, bits, group, m, cols, k, g.prologue(), g.rms(), xs, codes, scales, zeros, gamma, bb, rb, y, st, f);
                });
            String chosen = tuner.fastestOf(n, n, calls, x.get(0));
            if (chosen == null) throw GpuEngineException.unsupported(n, "no form of " + id + " ran (tried " + calls.keySet() + ")");
            form = WeightOnlyGemv.Form.ofVariant(GpuTactics.parts(chosen).get(1));
        }
        WeightOnlyGemv.Form run = form;
        return Operands.layer(c, n, GpuTactics.variant(id, run.variant), n.output(),
                st -> WeightOnlyGemv.launch(c.kernels(), t, scaleType, bits, group, m, cols, k, g.prologue(), g.rms(), x, codes, scales, zeros, gamma, bb, rb, y, st, run));
    }

    /**
     * The GEMM's dequant form: the weight dequantized into the stream's workspace (raised to hold it and cuBLASLt's), then
     * cuBLASLt's GEMM at the layer's precision with its heuristic's first algorithm.
     */
    private static Layer dequant(LayerContext c, Node n, String id, DType t, DType scaleType, int bits, int group, int m, int cols, int k,
                                 DeviceBuffer x, DeviceBuffer codes, DeviceBuffer scales, DeviceBuffer zeros, DeviceBuffer y) {
        c.needWorkspace(WeightOnlyGemm.dequantWorkspaceBytes(t, cols, k));
        java.util.function.Supplier<DeviceBuffer> workspace = c.workspace();
        CublasLtGemm g = CublasLtGemm.plan(c.cublasLt(), new CublasLtGemm.Spec(m, cols, k, true, GemmLayers.lp(c.precision()), CublasLt.Epilogue.DEFAULT), null, 1);
        if (g.algos().isEmpty()) {
            g.close();
            throw GpuEngineException.unsupported(n, "cuBLASLt has no algorithm for the dequant form's " + m + "x" + cols + "x" + k + " GEMM at " + c.precision());
        }
        String tactic = GpuTactics.variant(id, WeightOnlyGemm.Form.DEQUANT.variant);
        return new Layer() {
            @Override public LayerPlan plan() { return c.plan(n, tactic, n.output()); }
            @Override public void enqueue(CudaStream s) {
                WeightOnlyGemm.dequantThenGemm(c.kernels(), g, 0, t, scaleType, bits, group, m, cols, k, x, codes, scales, zeros, y, workspace.get(), s);
            }
            @Override public void close() { g.close(); }
        };
    }

    private static Layer w8a8(LayerContext c, Node n) {
        Value w = n.input(1), ws = n.input(2), as = n.input(3);
        QuantizedMatMulOps.Dims d;
        try {
            d = QuantizedMatMulOps.W8A8MatMul.check(n.input(0).type(), w.type(), ws.type(), as.type());
        } catch (OpException e) {
            throw GpuEngineException.unsupported(n, GpuTactics.GEMM_W8A8 + ": " + e.getMessage());
        }
        float sa = as.constantValue().floats()[0];
        if (!(sa > 0) || Float.isInfinite(sa)) throw GpuEngineException.unsupported(n, "a_scale %" + as.name() + " must be positive and finite, got " + sa);
        DType t = c.storage();
        DeviceBuffer x = c.activation(n.input(0)), y = c.activation(n.output()), codes = bytes(c, w);
        DeviceBuffer wScales = c.shared(ws, "f32", () -> HostTensors.upload(ws.constantValue(), DType.F32));
        DeviceBuffer aScale = c.shared(as, "f32", () -> HostTensors.upload(as.constantValue(), DType.F32));
        int m = d.m(), cols = d.n(), k = d.k();
        return Operands.layer(c, n, GpuTactics.GEMM_W8A8, n.output(), st -> W8A8Gemm.run(c.kernels(), t, m, cols, k, x, codes, wScales, aScale, y, st));
    }

    /** An i8 or u8 constant (codes, zero points) uploaded once as its bytes. */
    private static DeviceBuffer bytes(LayerContext c, Value v) {
        // read only when not uploaded yet: a context bound later never touches the host codes
        return c.shared(v, "bytes", () -> HostTensors.uploadBytes(v.constantValue()));
    }
}
