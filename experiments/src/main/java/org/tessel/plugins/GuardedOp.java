package org.tessel.plugins;

import java.util.List;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpSchema;
import org.tessel.api.PluginException;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;

/**
 * A plugin's op schema as Tessel uses it: its description read once at load (a schema that fails to
 * describe itself is refused then), its type inference, reference implementation and cost hint
 * guarded, so that whatever they throw reaches the user as one line naming the plugin, the op and
 * (through the graph layer) the node.
 */
final class GuardedOp implements OpSchema {
    private final OpSchema op;
    private final String plugin;
    private final String name, domain, qualifiedName, summary;
    private final int minInputs, maxInputs, minOutputs, maxOutputs;
    private final List<AttrSpec> attributes;
    private final Set<Trait> traits;
    private final List<String> inputNames;

    GuardedOp(OpSchema op, String plugin) {
        this.op = op;
        this.plugin = plugin;
        String w = "plugin " + plugin + ": op schema " + op.getClass().getName();
        this.name = nonNull(Guard.call(() -> w + " threw in name()", op::name), w + ": name() is null");
        this.domain = nonNull(Guard.call(() -> w + " threw in domain()", op::domain), w + ": domain() is null");
        this.qualifiedName = nonNull(Guard.call(() -> w + " threw in qualifiedName()", op::qualifiedName), w + ": qualifiedName() is null");
        String wn = "plugin " + plugin + ": op " + qualifiedName;
        if (name.isBlank() || !name.matches("[A-Za-z_][A-Za-z0-9_]*")) throw new PluginException(wn + ": op name '" + name + "' must be a word (letters, digits, '_')");
        this.summary = String.valueOf(Guard.call(() -> wn + " threw in summary()", op::summary));
        this.minInputs = Guard.call(() -> wn + " threw in minInputs()", op::minInputs);
        this.maxInputs = Guard.call(() -> wn + " threw in maxInputs()", op::maxInputs);
        this.minOutputs = Guard.call(() -> wn + " threw in minOutputs()", op::minOutputs);
        this.maxOutputs = Guard.call(() -> wn + " threw in maxOutputs()", op::maxOutputs);
        if (minInputs < 0 || maxInputs < minInputs || minOutputs < 1 || maxOutputs < minOutputs)
            throw new PluginException(wn + ": arity inputs " + minInputs + ".." + maxInputs + ", outputs " + minOutputs + ".." + maxOutputs + " is not a range (at least one output)");
        this.attributes = List.copyOf(nonNull(Guard.call(() -> wn + " threw in attributes()", op::attributes), wn + ": attributes() is null"));
        this.traits = Set.copyOf(nonNull(Guard.call(() -> wn + " threw in traits()", op::traits), wn + ": traits() is null"));
        if (traits.contains(Trait.FUSED)) throw new PluginException(wn + ": the FUSED trait belongs to Tessel's own tessel.Fused op");
        this.inputNames = List.copyOf(nonNull(Guard.call(() -> wn + " threw in inputNames()", op::inputNames), wn + ": inputNames() is null"));
    }

    private static <T> T nonNull(T v, String what) {
        if (v == null) throw new PluginException(what);
        return v;
    }

    /** The plugin's own schema object. */
    OpSchema unwrap() { return op; }

    @Override public String name() { return name; }
    @Override public String domain() { return domain; }
    @Override public String qualifiedName() { return qualifiedName; }
    @Override public String summary() { return summary; }
    @Override public int minInputs() { return minInputs; }
    @Override public int maxInputs() { return maxInputs; }
    @Override public int minOutputs() { return minOutputs; }
    @Override public int maxOutputs() { return maxOutputs; }
    @Override public List<AttrSpec> attributes() { return attributes; }
    @Override public Set<Trait> traits() { return traits; }
    @Override public List<String> inputNames() { return inputNames; }

    @Override public List<TensorType> inferTypes(InferenceContext ctx) {
        List<TensorType> out = Guard.op(() -> "plugin " + plugin + ": op " + qualifiedName + " threw in inferTypes", () -> op.inferTypes(ctx));
        if (out == null) throw new org.tessel.api.OpException("plugin " + plugin + ": op " + qualifiedName + "'s inferTypes returned null");
        for (int i = 0; i < out.size(); i++)
            if (out.get(i) == null) throw new org.tessel.api.OpException("plugin " + plugin + ": op " + qualifiedName + "'s inferTypes returned no type for output " + i);
        return out;
    }

    @Override public List<Tensor> evaluate(EvalContext ctx) {
        List<Tensor> out = Guard.op(() -> "plugin " + plugin + ": op " + qualifiedName + " threw in its reference implementation", () -> op.evaluate(ctx));
        if (out == null) throw new org.tessel.api.OpException("plugin " + plugin + ": op " + qualifiedName + "'s reference implementation returned null");
        for (int i = 0; i < out.size(); i++)
            if (out.get(i) == null) throw new org.tessel.api.OpException("plugin " + plugin + ": op " + qualifiedName + "'s reference implementation returned no tensor for output " + i);
        return out;
    }

    @Override public long macs(InferenceContext ctx, List<TensorType> outputs) {
        return Guard.call(() -> "plugin " + plugin + ": op " + qualifiedName + " threw in macs() on node '" + ctx.nodeName() + "'", () -> op.macs(ctx, outputs));
    }

    @Override public String toString() { return qualifiedName + " (plugin " + plugin + ")"; }
}
