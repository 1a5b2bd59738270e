package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.NetworkBuilder;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * tessel.recurrent (RNN, GRU, LSTM) as GPU engines, on a GPU or the emulated device: every recurrent node case of ONNX
 * (weights, biases and peepholes bound as constants, as a model holds them; X, sequence_lens and the initial states
 * as engine inputs) against ONNX's expected outputs, then synthetic forms against the reference interpreter at FP32
 * and FP16: bidirectional with sequence lengths shorter than the sequence (one of them 0) and initial states, batch
 * first (layout 1) in reverse with clip, GRU's linear_before_reset, LSTM's input_forget, gate functions with alpha and
 * beta, an output subset without Y; an engine the joint search plans; hidden sizes past a block's shared memory.
 */
@Tag("gpu")
class RecurrentGpuTest {
    static final Set<String> PREFIXES = Set.of("test_lstm_", "test_gru_", "test_rnn_", "test_simple_rnn_");
    /** Node input positions bound as constants: W, R, B, P. */
    static final Set<Integer> WEIGHTS = Set.of(1, 2, 3, 7);

    static List<String> tactics(GpuEngine e) { return e.layerPlans().stream().map(l -> l.tactic()).distinct().toList(); }

    @Test void onnxNodeCasesMatchTheirExpectedOutputs() throws Exception {
        CudaContext ctx = GpuTestSupport.requireGpu();
        int checked = 0;
        for (Path d : OnnxNodeCase.folders(name -> PREFIXES.stream().anyMatch(name::startsWith))) {
            List<String> nodeInputs = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(d.resolve("model.onnx"))).getGraph().getNode(0).getInputList();
            OnnxNodeCase nc = OnnxNodeCase.load(d, (i, name) -> WEIGHTS.contains(nodeInputs.indexOf(name)));
            Graph g = nc.graph();
            try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext c = e.createExecutionContext()) {
                assertTrue(tactics(e).contains(GpuTactics.RECURRENT), nc.name() + ": " + tactics(e));
                Map<String, Tensor> got = c.run(nc.inputs());
                for (int k = 0; k < g.outputs().size(); k++)
                    GpuTestSupport.assertClose(nc.name() + " output " + k, got.get(g.outputs().get(k).name()), nc.expected().get(k), 1e-4);
            }
            checked++;
        }
        assertTrue(checked >= 18, "recurrent node cases found: " + checked);
    }

    /** One synthetic recurrent node: op, sizes, attributes, which optional inputs it has, which outputs the graph reads. */
    record Case(String op, int seq, int batch, int input, int hidden, Attributes attrs, boolean bias, boolean lens, boolean initial, boolean peepholes, boolean[] outputs) {
        int gates() { return switch (op) { case "RNN" -> 1; case "GRU" -> 3; default -> 4; }; }
        int dirs() { return attrs.getString("direction", "forward").equals("bidirectional") ? 2 : 1; }
        boolean batchFirst() { return attrs.getInt("layout", 0) == 1; }
        String name() { return op + "_" + attrs; }
    }

    static final boolean[] ALL = {true, true, true};

    static Graph graph(Case c, SplittableRandom r, Map<String, Tensor> inputs) {
        NetworkBuilder b = new NetworkBuilder(c.op().toLowerCase(java.util.Locale.ROOT) + "_case");
        int g = c.gates(), h = c.hidden(), d = c.dirs();
        int[] xd = c.batchFirst() ? new int[] {c.batch(), c.seq(), c.input()} : new int[] {c.seq(), c.batch(), c.input()};
        int[] sd = c.batchFirst() ? new int[] {c.batch(), d, h} : new int[] {d, c.batch(), h};
        Value[] in = new Value[c.op().equals("LSTM") ? 8 : 6];
        in[0] = b.input("x", DType.F32, xd);
        inputs.put("x", GpuTestSupport.random(r, DType.F32, Shape.of(xd), -1.5, 1.5));
        in[1] = b.constant("w", GpuTestSupport.random(r, DType.F32, Shape.of(d, g * h, c.input()), -0.6, 0.6));
        in[2] = b.constant("r", GpuTestSupport.random(r, DType.F32, Shape.of(d, g * h, h), -0.6, 0.6));
        if (c.bias()) in[3] = b.constant("b", GpuTestSupport.random(r, DType.F32, Shape.of(d, 2 * g * h), -0.4, 0.4));
        if (c.lens()) {
            in[4] = b.input("lens", DType.I32, c.batch());
            long[] l = new long[c.batch()];
            for (int i = 0; i < l.length; i++) l[i] = i == 1 ? 0 : i == 0 ? c.seq() : 1 + r.nextInt(c.seq());
            inputs.put("lens", Tensor.ofLongs(DType.I32, Shape.of(c.batch()), l));
        }
        if (c.initial()) {
            in[5] = b.input("h0", DType.F32, sd);
            inputs.put("h0", GpuTestSupport.random(r, DType.F32, Shape.of(sd), -1, 1));
            if (c.op().equals("LSTM")) {
                in[6] = b.input("c0", DType.F32, sd);
                inputs.put("c0", GpuTestSupport.random(r, DType.F32, Shape.of(sd), -1, 1));
            }
        }
        if (c.peepholes()) in[7] = b.constant("p", GpuTestSupport.random(r, DType.F32, Shape.of(d, 3 * h), -0.5, 0.5));
        int last = in.length;
        while (in[last - 1] == null) last--;
        Node n = b.node(c.op(), "rec", c.attrs(), c.op().equals("LSTM") ? 3 : 2, java.util.Arrays.copyOf(in, last));
        List<Value> outs = new ArrayList<>();
        for (int i = 0; i < n.outputs().size(); i++) if (c.outputs()[i]) outs.add(n.output(i));
        return b.output(outs.toArray(Value[]::new)).build();
    }

    static Attributes.Builder attrs(int hidden) { return Attributes.builder().put("hidden_size", (long) hidden); }

    static Attributes.Builder functions(Attributes.Builder a, String... names) { return a.put("activations", new AttrValue.Strs(List.of(names))); }

    static List<Case> cases() {
        List<Case> cs = new ArrayList<>();
        for (String op : List.of("RNN", "GRU", "LSTM")) {
            // bidirectional, sequence lengths shorter than the sequence (and 0), initial states, bias, peepholes
            cs.add(new Case(op, 5, 4, 6, 7, attrs(7).put("direction", "bidirectional").build(), true, true, true, op.equals("LSTM"), ALL));
            // batch first, reverse, clip; GRU linear_before_reset, LSTM input_forget; only the states read (no Y)
            Attributes.Builder a = attrs(5).put("layout", 1L).put("direction", "reverse").put("clip", 0.8f);
            if (op.equals("GRU")) a.put("linear_before_reset", 1L);
            if (op.equals("LSTM")) a.put("input_forget", 1L);
            cs.add(new Case(op, 4, 3, 3, 5, a.build(), true, true, false, false, new boolean[] {false, true, true}));
        }
        // gate functions other than the defaults, alpha and beta consumed in order; wider than a block's threads
        cs.add(new Case("RNN", 3, 2, 4, 300, functions(attrs(300), "LeakyRelu", "ScaledTanh").put("direction", "bidirectional")
                .put("activation_alpha", 0.2f, 0.9f).put("activation_beta", new float[] {0.7f}).build(), true, false, true, false, ALL));
        cs.add(new Case("GRU", 4, 2, 3, 6, functions(attrs(6), "HardSigmoid", "Softsign").put("activation_alpha", new float[] {0.3f}).put("activation_beta", new float[] {0.45f}).build(),
                false, false, true, false, ALL));
        cs.add(new Case("LSTM", 3, 3, 2, 4, functions(attrs(4), "Sigmoid", "Elu", "Softplus").put("activation_alpha", new float[] {0.6f}).put("layout", 1L).build(),
                true, true, true, true, ALL));
        cs.add(new Case("LSTM", 3, 2, 2, 4, functions(attrs(4), "Affine", "ThresholdedRelu", "Relu").put("activation_alpha", 0.5f, 0.1f)
                .put("activation_beta", new float[] {0.25f}).build(), true, false, false, false, ALL));
        return cs;
    }

    @Test void syntheticFormsMatchTheReferenceAtFp32AndFp16() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(41);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Case c : cases()) {
            Map<String, Tensor> in = new HashMap<>();
            Graph g = graph(c, r, in);
            Map<String, Tensor> want = GpuTestSupport.reference(g, in);
            for (GpuEngine.Precision p : List.of(GpuEngine.Precision.FP32, GpuEngine.Precision.FP16))
                checks.check(c.name() + " " + p, () -> {
                    try (GpuEngine e = GpuEngine.build(g, p, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                        assertTrue(tactics(e).contains(GpuTactics.RECURRENT), c.name() + ": " + tactics(e));
                        Map<String, Tensor> got = x.run(in);
                        for (Value o : g.outputs())
                            GpuTestSupport.assertClose(c.name() + " " + p + " " + o.name(), got.get(o.name()), want.get(o.name()), p == GpuEngine.Precision.FP32 ? 1e-4 : 1e-2);
                    }
                });
        }
        checks.done();
    }

    @Test void theJointSearchPlansTheRecurrentTactic() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        Map<String, Tensor> in = new HashMap<>();
        Case c = new Case("LSTM", 6, 3, 5, 8, attrs(8).put("direction", "bidirectional").build(), true, true, true, true, ALL);
        Graph reference = graph(c, new SplittableRandom(5), in);
        Map<String, Tensor> want = GpuTestSupport.reference(reference, in);
        Graph prepared = Searcher.prepare(reference.copy());
        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32, Precision.FP16));
        SearchProblem problem = Searcher.problem(prepared, o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "joint", o));
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.precisionFor(a.plan(), a.graph()), ctx, GpuEngine.Options.FIXED, 1);
             GpuExecutionContext x = e.createExecutionContext()) {
            assertTrue(tactics(e).contains(GpuTactics.RECURRENT), tactics(e).toString());
            Map<String, Tensor> got = x.run(in);
            for (Value v : reference.outputs())
                GpuTestSupport.assertClose("joint plan " + v.name() + " (" + e.describePrecision() + ")", got.get(v.name()), want.get(v.name()), 1e-2);
        }
    }

    /**
     * Past a block's 48 KiB of shared memory (LSTM's hidden size 1,755, GRU's 2,048) the state lives in the block's slice
     * of the workspace: the same kernel, checked against the reference at FP32.
     */
    @Test void hiddenSizesBeyondABlocksSharedMemoryKeepTheirStateInWorkspace() {
        CudaContext ctx = GpuTestSupport.requireGpu();
        SplittableRandom r = new SplittableRandom(1760);
        GpuTestSupport.Checks checks = new GpuTestSupport.Checks();
        for (Case c : List.of(new Case("LSTM", 3, 2, 3, 1760, attrs(1760).put("direction", "bidirectional").build(), true, true, true, true, ALL),
                new Case("GRU", 2, 1, 2, 2100, attrs(2100).build(), true, false, true, false, ALL))) {
            Map<String, Tensor> in = new HashMap<>();
            Graph g = graph(c, r, in);
            Map<String, Tensor> want = GpuTestSupport.reference(g, in);
            checks.check(c.name(), () -> {
                try (GpuEngine e = GpuEngine.build(g, GpuEngine.Precision.FP32, ctx); GpuExecutionContext x = e.createExecutionContext()) {
                    assertTrue(tactics(e).contains(GpuTactics.RECURRENT), c.name() + ": " + tactics(e));
                    Map<String, Tensor> got = x.run(in);
                    for (Value o : g.outputs()) GpuTestSupport.assertClose(c.name() + " " + o.name(), got.get(o.name()), want.get(o.name()), 1e-4);
                }
            });
        }
        checks.done();
    }
}
