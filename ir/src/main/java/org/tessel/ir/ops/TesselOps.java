package org.tessel.ir.ops;

import java.util.List;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.Layout;
import org.tessel.api.OpException;
import org.tessel.api.OpProvider;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * Tessel's own ops (domain "tessel"), which passes introduce: a fused node holding its subgraph,
 * a reformat that changes only the physical layout of an image tensor, and the quantized matrix
 * multiplies of the LLM decoders ({@link QuantizedMatMulOps}), the multi-adapter LoRA term
 * ({@link LoraOps}) the decoders' attention over a paged KV cache ({@link PagedAttentionOp}) and their rotary embedding
 * ({@link RotaryEmbeddingOps.HalfRotation}).
 */
public final class TesselOps implements OpProvider {
    public static final String DOMAIN = "tessel";
    public static final String FUSED = "tessel.Fused";
    public static final String REFORMAT = "tessel.Reformat";

    @Override public String providerName() { return "tessel-builtin"; }

    @Override public List<OpSchema> ops() {
        List<OpSchema> ops = new java.util.ArrayList<>(List.of(new Fused(), new Reformat()));
        ops.addAll(QuantizedMatMulOps.all());
        ops.addAll(LoraOps.all());
        ops.add(new PagedAttentionOp());
        ops.add(new RotaryEmbeddingOps.HalfRotation());
        return List.copyOf(ops);
    }

    /**
     * A group of ops executed as one kernel. Its semantics and output types are those of its body;
     * {@code kind} names the pattern ("conv_bias_act", "eltwise", "attention", ...).
     */
    public static final class Fused extends BaseOp {
        Fused() {
            super(def("Fused", "Ops fused into one kernel; semantics are the body's").domain(DOMAIN)
                    .inputs(0, Integer.MAX_VALUE, "inputs").outputs(1, Integer.MAX_VALUE).traits(Trait.FUSED)
                    .stringAttr("kind", "custom", "The fusion pattern, for tactics and reports"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            throw new OpException("a fused node's output types come from its body; it cannot be created without one");
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) {
            throw new OpException("a fused node is evaluated through its body");
        }
    }

    /** Identity on values; changes the physical layout to attribute {@code to} ("nchw" or "nhwc"). */
    public static final class Reformat extends BaseOp {
        Reformat() {
            super(def("Reformat", "Change the physical layout of an image tensor (values unchanged)").domain(DOMAIN)
                    .inputs(1, 1, "X").traits(Trait.DATA_MOVEMENT)
                    .requiredAttr("to", org.tessel.api.AttrValue.Kind.STRING, "Target layout: nchw or nhwc"));
        }

        @Override public List<TensorType> inferTypes(InferenceContext ctx) {
            String to = ctx.attrs().getString("to", "");
            Layout l = Layout.fromText(to).filter(x -> x != Layout.ANY)
                    .orElseThrow(() -> new OpException("attribute 'to' must be nchw or nhwc, got '" + to + "'"));
            TensorType in = ctx.input(0);
            if (in.rank() < 3) throw new OpException("only image tensors (rank >= 3) have a layout; got " + in);
            return List.of(in.withLayout(l));
        }

        @Override public List<Tensor> evaluate(EvalContext ctx) { return List.of(ctx.input(0)); }
    }
}
