package org.tessel.ir;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.api.EvalContext;
import org.tessel.api.OpException;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * Runs a verified graph on the CPU with each op's reference semantics: the oracle every pass and
 * backend is tested against. Values are freed after their last use so large models fit; a fused
 * node runs its body.
 */
public final class ReferenceInterpreter {
    /** Called after each node, e.g. for per-layer timing or dumping intermediate values. */
    public interface Listener { void afterNode(Node n, List<Tensor> outputs, long nanos); }

    private Listener listener;

    public ReferenceInterpreter withListener(Listener l) { this.listener = l; return this; }

    /** Runs with inputs given by graph-input name; returns outputs by graph-output name. */
    public Map<String, Tensor> run(Graph g, Map<String, Tensor> inputs) {
        List<Tensor> ins = new ArrayList<>();
        for (Value v : g.inputs()) {
            Tensor t = inputs.get(v.name());
            if (t == null) throw new IrException("graph '" + g.name() + "': no value given for input %" + v.name() + " (" + v.type() + ")");
            ins.add(t);
        }
        for (String k : inputs.keySet())
            if (g.value(k) == null || !g.value(k).isInput()) throw new IrException("graph '" + g.name() + "' has no input named %" + k + "; inputs: " + g.inputs().stream().map(Value::name).toList());
        List<Tensor> outs = run(g, ins);
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < outs.size(); i++) m.put(g.outputs().get(i).name(), outs.get(i));
        return m;
    }

    public List<Tensor> run(Graph g, List<Tensor> inputs) {
        if (inputs.size() != g.inputs().size())
            throw new IrException("graph '" + g.name() + "' takes " + g.inputs().size() + " inputs, got " + inputs.size());
        Map<Value, Tensor> env = new IdentityHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            Value v = g.inputs().get(i);
            Tensor t = inputs.get(i);
            TensorType want = v.type();
            if (t.dtype() != want.dtype() || !t.shape().equals(want.shape()))
                throw new IrException("graph '" + g.name() + "': input %" + v.name() + " must be " + want + ", got " + t.dtype().text() + t.shape());
            env.put(v, t);
        }
        for (Value c : g.constants()) env.put(c, c.constantValue());
        // last use of every value, so intermediate tensors can be dropped early
        Map<Value, Integer> lastUse = new IdentityHashMap<>();
        List<Node> nodes = g.nodes();
        for (int i = 0; i < nodes.size(); i++) for (Value v : nodes.get(i).inputs()) if (v != null) lastUse.put(v, i);
        for (Value o : g.outputs()) lastUse.put(o, Integer.MAX_VALUE);
        Map<String, Object> unused = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            List<Tensor> ins = new ArrayList<>(n.numInputs());
            for (Value v : n.inputs()) {
                if (v == null) { ins.add(null); continue; }
                Tensor t = env.get(v);
                if (t == null) throw new IrException(n.describe() + ": input %" + v.name() + " has no value (graph not in topological order?)");
                ins.add(t);
            }
            long t0 = System.nanoTime();
            List<Tensor> outs = evaluate(n, ins);
            long dt = System.nanoTime() - t0;
            for (int k = 0; k < outs.size(); k++) env.put(n.output(k), outs.get(k));
            if (listener != null) listener.afterNode(n, outs, dt);
            for (Value v : n.inputs()) if (v != null && !v.isConstant() && !v.isInput() && lastUse.getOrDefault(v, -1) == i) env.remove(v);
        }
        unused.clear();
        List<Tensor> result = new ArrayList<>();
        for (Value o : g.outputs()) result.add(env.get(o));
        return result;
    }

    /** Evaluates one node on given input values, checking the result against the node's types. */
    public List<Tensor> evaluate(Node n, List<Tensor> ins) {
        List<Tensor> outs;
        try {
            if (n.body() != null) {
                outs = new ReferenceInterpreter().run(n.body(), ins);
            } else {
                List<TensorType> outTypes = n.outputs().stream().map(Value::type).toList();
                outs = n.op().evaluate(new EvalContext(n.name(), ins, n.attrs(), outTypes));
            }
        } catch (OpException | IllegalArgumentException | IllegalStateException | ArithmeticException | IndexOutOfBoundsException e) {
            throw new IrException(n.describe() + ": evaluation failed: " + e.getMessage(), e);
        }
        if (outs.size() != n.outputs().size())
            throw new IrException(n.describe() + ": reference implementation returned " + outs.size() + " outputs, node has " + n.outputs().size());
        for (int k = 0; k < outs.size(); k++) {
            TensorType want = n.output(k).type();
            Tensor got = outs.get(k);
            if (got.dtype() != want.dtype() || !got.shape().equals(want.shape()))
                throw new IrException(n.describe() + ": reference implementation produced " + got.dtype().text() + got.shape()
                        + " for output %" + n.output(k).name() + " typed " + want);
        }
        return outs;
    }
}
