package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.tessel.api.Layout;
import org.tessel.api.TensorType;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.TimingCache;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.Tuner;

/**
 * The search's measurements on this GPU: a node is copied into a graph of its own (its activations as graph inputs in
 * the layout asked, its constants as they are), built as a one-layer engine with the asked tactic forced at the asked
 * precision, and timed as a CUDA graph of {@value #COPIES} copies of the layer back to back, per copy (median of
 * {@value #RUNS} runs after {@value #WARMUP} warm-ups, on zeroed inputs): a graph of one copy charged every layer a whole
 * replay's launch, which an engine's back-to-back kernels do not pay (an H100 priced MobileNetV2 b1's tuned plan at 0.408 ms
 * from such timings; it ran in 0.264). The timing cache's environment records the method ({@link GpuEngineFile#timingEnvironment}),
 * so a cache timed the old way is reported and measured again rather than mixed with these. Measurements go to the timing cache (under the node's signature and the tactic with the variant the build
 * chose), and a warm cache answers without building. Kernels compiled for one measurement are reused by the next.
 */
public final class GpuTuner implements Tuner {
    static final int WARMUP = 5, RUNS = 25;
    /** Copies of the layer in the timed graph. */
    static final int COPIES = 5;
    /**
     * How nodes are timed, as the timing cache's environment records it: a graph of {@link #COPIES} copies, and the RGB stem
     * on the network's NCHW input ({@link #stemOnInput}; caches from before timed it on an NHWC input, another form).
     */
    static final String METHOD = "graph-copies-" + COPIES + "-stem-on-input";

    private final CudaContext context;
    private final TimingCache cache;
    private final Map<String, String> ptx = new HashMap<>();
    private final List<String> refusals = new ArrayList<>();
    private int measuredHere, fromCache, refused;
    private long nanos;

    /** {@code cache} may be null (nothing remembered between builds). */
    public GpuTuner(CudaContext context, TimingCache cache) {
        this.context = context;
        this.cache = cache;
    }

    @Override public Timing time(Node n, String tacticId, Precision p, Layout l) {
        if (!measures(n, tacticId)) return Timing.NOT_MEASURED; // another backend's tactic (cpu.reference): not this tuner's to time
        // a view moves no bytes in an engine, but alone in a graph of its own (input to output) it must copy: timing that
        // would price the copy, under tessel.copy, and never find it again under tessel.view (re-timed on every build)
        if (tacticId.equals(GpuTactics.VIEW)) return Timing.NOT_MEASURED;
        GpuEngine.Precision gp = GpuEngine.gpuPrecision(p);
        if (gp == null) return Timing.NOT_MEASURED;
        long t0 = System.nanoTime();
        try {
            Question q;
            try {
                q = question(n, tacticId, gp, l);
            } catch (RuntimeException e) {
                refuse(n, tacticId, p, l, "cannot be copied into a graph of its own: " + e.getMessage());
                return Timing.NOT_MEASURED; // the tuner's limit, not the tactic's: the prediction stands
            }
            Node m = q.timed();
            String[] why = new String[1];
            OptionalDouble us = measure(q.graph(), m, Map.of(m.name(), tacticId), gp, tacticId, true, gp.quantized() ? quantizedPlan(q.graph(), m, tacticId, p, l) : null, reason -> {
                refused++;
                why[0] = reason;
                return OptionalDouble.empty();
            });
            return us.isPresent() ? new Timing.Measured(q.price(us.getAsDouble(), this)) : new Timing.Failed(why[0]); // the search reports the failure with the node
        } finally {
            nanos += System.nanoTime() - t0;
        }
    }

    /**
     * A layout change of a tensor of type {@code t} (f32, f16 or bf16: a storage type) on this GPU: a one-layer engine
     * of a {@code tessel.Reformat} to NHWC, timed like a node, kept in the timing cache under the reformat's signature.
     */
    @Override public OptionalDouble reformatUs(TensorType t) {
        GpuEngine.Precision gp = reformatPrecision(t);
        if (gp == null || t.rank() < 3) return OptionalDouble.empty();
        long t0 = System.nanoTime();
        try {
            Graph g = reformatAlone(t);
            return measure(g, g.nodes().get(0), Map.of(), gp, GpuTactics.REFORMAT, false, null, why -> {
                refused++;
                if (refusals.size() < 20) refusals.add("reformat of " + t + ": " + why);
                return OptionalDouble.empty();
            });
        } finally {
            nanos += System.nanoTime() - t0;
        }
    }

    /**
     * A cast of a tensor of type {@code t} (stored as its element type: f32, f16 or bf16) to {@code to} on this GPU: the
     * {@code tessel.cast} kernel a mixed-precision engine runs on that edge, timed alone between CUDA events (median of
     * {@value #RUNS} after {@value #WARMUP} warm-ups), kept in the timing cache under the cast's signature.
     */
    @Override public OptionalDouble castUs(TensorType t, org.tessel.api.DType to) {
        org.tessel.api.DType from = t.dtype();
        if (!org.tessel.runtime.gpu.CudaTypes.supported(from) || !org.tessel.runtime.gpu.CudaTypes.supported(to) || from == to) return OptionalDouble.empty();
        String signature = castSignature(t, to);
        if (cache != null) {
            OptionalDouble known = fastestCached(signature, GpuTactics.CAST);
            if (known.isPresent()) { fromCache++; return known; }
        }
        long t0 = System.nanoTime();
        context.bind();
        long n = t.numElements();
        try (org.tessel.runtime.gpu.kernels.KernelCompiler kc = new org.tessel.runtime.gpu.kernels.KernelCompiler(context);
             org.tessel.runtime.cuda.DeviceBuffer x = org.tessel.runtime.cuda.DeviceBuffer.allocate(Math.max(1, n * from.bytes()));
             org.tessel.runtime.cuda.DeviceBuffer y = org.tessel.runtime.cuda.DeviceBuffer.allocate(Math.max(1, n * to.bytes()));
             org.tessel.runtime.cuda.CudaStream s = org.tessel.runtime.cuda.CudaStream.create();
             org.tessel.runtime.cuda.CudaEvent start = new org.tessel.runtime.cuda.CudaEvent();
             org.tessel.runtime.cuda.CudaEvent end = new org.tessel.runtime.cuda.CudaEvent()) {
            x.fill((byte) 0);
            kc.preload(ptx);
            for (int i = 0; i < WARMUP; i++) org.tessel.runtime.gpu.kernels.Cast.run(kc, from, to, x, y, n, s);
            double[] us = new double[RUNS];
            for (int i = 0; i < RUNS; i++) {
                start.record(s);
                org.tessel.runtime.gpu.kernels.Cast.run(kc, from, to, x, y, n, s);
                end.record(s);
                end.synchronize();
                us[i] = end.elapsedSince(start) * 1000.0;
            }
            ptx.putAll(kc.ptx());
            double median = GpuExecutionContext.quantile(us, 0.5);
            double[] dev = new double[us.length];
            for (int i = 0; i < us.length; i++) dev[i] = Math.abs(us[i] - median);
            if (cache != null) cache.put(signature, GpuTactics.CAST, new Measurement(median, GpuExecutionContext.quantile(dev, 0.5), RUNS));
            measuredHere++;
            return OptionalDouble.of(Math.max(median, 1e-3));
        } catch (RuntimeException e) {
            refused++;
            if (refusals.size() < 20) refusals.add("cast of " + t + " to " + to.text() + ": " + e.getMessage());
            return OptionalDouble.empty();
        } finally {
            nanos += System.nanoTime() - t0;
        }
    }

    /**
     * The plan of a one-node graph timed at INT8 or FP8: the node at that precision with its tactic, in an engine whose I/O
     * is FP16, and a scale of 1/16 for each activation it reads and writes (the time does not depend on the values; codes
     * saturate rather than overflow). Its layer includes the quantizing cast of its input, which a plan of consecutive
     * quantized nodes does not pay on every edge.
     */
    static org.tessel.tactics.plan.EnginePlan quantizedPlan(Graph mini, Node m, String tacticId, Precision p, Layout l) {
        Map<String, Float> scales = new HashMap<>();
        for (Value v : org.tessel.tactics.plan.QuantizationTable.activations(m)) scales.put(v.name(), 1f / 16);
        var node = new org.tessel.tactics.plan.PlannedNode(m.name(), m.opName(), tacticId, null, p, l, 0, 0);
        return new org.tessel.tactics.plan.EnginePlan(mini.name(), "tuner", "", 0, List.of(), List.of(node), List.of(), 0, 0)
                .withQuantization(new org.tessel.tactics.plan.QuantizationTable("tuner", scales, Map.of(), p));
    }

    /**
     * True when {@code n} at this format is the RGB stem reading the network's input: {@code tessel.conv.stem} at FP16/NHWC
     * on a convolution whose activation is a graph input. An engine runs it on that NCHW input, the input's reformat absorbed
     * into the stem's own first kernel ({@link StemConv}); timed alone on an NHWC input it would run another form (the
     * channel-padded NHWC one, {@link ChannelPad}), which an H100 ran in 267 us at ResNet-50 b32 against the engine's
     * form's few tens: the measured search then priced the rule's stem out of its plan (b32: 1.322 ms against 1.101). The
     * fused stem and pool ({@code tessel.conv.stem_pool}) reads the network's NCHW input the same way ({@link ConvPoolLayers}).
     */
    static boolean stemOnInput(Node n, String tacticId, GpuEngine.Precision gp, Layout l) {
        if (!tacticId.equals(GpuTactics.CONV_STEM) && !tacticId.equals(GpuTactics.CONV_POOL) || gp != GpuEngine.Precision.FP16 || l != Layout.NHWC || n.inputs().isEmpty()) return false;
        Value x = n.input(0);
        return x != null && !x.isConstant() && x.producer() == null && x.type().rank() == 4;
    }

    /**
     * The stem of {@link #stemOnInput} as an engine runs it: the graph input in NCHW, its tessel.Reformat to NHWC (which the
     * stem absorbs), then the node in NHWC; nodes() are the reformat, then the copy of {@code n}.
     */
    static Graph stemAlone(Node n) {
        Graph g = new Graph("tune_" + n.name().replaceAll("[^A-Za-z0-9_]", "_"));
        Value x = n.input(0);
        Value in = g.addInput(g.uniqueValueName(x.name()), x.type().withLayout(Layout.NCHW));
        Node r = g.insertNode(0, org.tessel.api.OpRegistry.global().get(org.tessel.ir.ops.TesselOps.REFORMAT), g.uniqueValueName(x.name() + "_to_nhwc"), List.of(in),
                org.tessel.api.Attributes.builder().put("to", "nhwc").build(), List.of(in.type().withLayout(Layout.NHWC)), null, null);
        List<Value> ins = new ArrayList<>();
        ins.add(r.output());
        for (int i = 1; i < n.inputs().size(); i++) {
            Value v = n.input(i);
            if (v == null) { ins.add(null); continue; }
            if (!v.isConstant()) throw new IllegalArgumentException("the stem's input " + i + " ('" + v.name() + "') is an activation; only its image is");
            ins.add(g.addConstantExact(g.uniqueValueName(v.name()), v.constantValue(), v.type()));
        }
        List<TensorType> outs = new ArrayList<>();
        for (Value o : n.outputs()) outs.add(laidOut(o.type(), Layout.NHWC));
        Node m = g.insertNode(1, n.op(), n.name(), ins, n.attrs(), outs, null, n.body());
        g.setOutputs(List.of(m.output()));
        return g;
    }

    /**
     * What is timed for a question: the graph built ({@link #alone}, or {@link #stemAlone} for the stem on the network's
     * input) and its node the question is about, whose signature keys the timing cache.
     */
    record Question(Graph graph, Node timed, TensorType absorbedInput) {
        /**
         * The search's price of a time measured (or cached) for this question: for the stem, net of the reformat of the input
         * it absorbs ({@code absorbedInput}, null otherwise), {@code reformats} timing that reformat.
         */
        double price(double us, Tuner reformats) {
            return absorbedInput == null ? us : stemNet(us, reformats.reformatUs(absorbedInput));
        }
    }

    /** The graph timed for node {@code n} asked at this tactic and format; throws where {@code n} cannot be copied alone. */
    static Question question(Node n, String tacticId, GpuEngine.Precision gp, Layout l) {
        boolean stem = stemOnInput(n, tacticId, gp, l);
        Graph g = stem ? stemAlone(n) : alone(n, l);
        return new Question(g, g.nodes().get(stem ? 1 : 0), stem ? n.input(0).type() : null);
    }

    /**
     * The stem's price without the input's reformat: the search charges that reformat on the graph input's edge (its
     * measured {@code tessel.reformat} time), and the form timed ran it inside the stem, so it is taken off once; never
     * below a quarter of the form's time (where the reformat alone measured slower than the whole form).
     */
    static double stemNet(double formUs, OptionalDouble reformatUs) {
        return reformatUs.isEmpty() ? formUs : Math.max(formUs - reformatUs.getAsDouble(), formUs / 4);
    }

    /**
     * The timing cache's key of a question this tuner answers by building a graph (null where it answers none, as
     * {@link #time} does not measure it): the signature of the node as timed (alone, or the stem on its input) at the
     * question's precision. {@link CachedTuner} asks the cache with it, so a search replays a build's measurements.
     */
    static String signature(Node n, String tacticId, Precision p, Layout l) {
        if (!measures(n, tacticId) || tacticId.equals(GpuTactics.VIEW)) return null;
        GpuEngine.Precision gp = GpuEngine.gpuPrecision(p);
        if (gp == null) return null;
        try {
            return TimingCache.signature(question(n, tacticId, gp, l).timed(), gp.name());
        } catch (RuntimeException e) {
            return null; // a node that cannot be copied alone is never timed
        }
    }

    /** The timing cache's key of a layout change of a tensor of type {@code t} (null where none is timed), as {@link #reformatUs} records it. */
    static String reformatSignature(TensorType t) {
        GpuEngine.Precision gp = reformatPrecision(t);
        return gp == null || t.rank() < 3 ? null : TimingCache.signature(reformatAlone(t).nodes().get(0), gp.name());
    }

    /** The storage precision a reformat of {@code t} is timed at (f32, f16, bf16), or null. */
    static GpuEngine.Precision reformatPrecision(TensorType t) {
        return switch (t.dtype()) {
            case F32 -> GpuEngine.Precision.FP32;
            case F16 -> GpuEngine.Precision.FP16;
            case BF16 -> GpuEngine.Precision.BF16;
            default -> null;
        };
    }

    /** The timing cache's key of a cast of a tensor of type {@code t} to {@code to}, as {@link #castUs} records it. */
    static String castSignature(TensorType t, org.tessel.api.DType to) { return "cast|" + t.dtype().text() + "->" + to.text() + "|" + t.numElements(); }

    /** A graph of one tessel.Reformat of an f32 tensor shaped as {@code t} from NCHW to NHWC. */
    static Graph reformatAlone(TensorType t) {
        Graph g = new Graph("tune_reformat");
        Value x = g.addInput("x", t.withDType(org.tessel.api.DType.F32).withLayout(Layout.NCHW));
        Node r = g.insertNode(0, org.tessel.api.OpRegistry.global().get(org.tessel.ir.ops.TesselOps.REFORMAT), "reformat", List.of(x),
                org.tessel.api.Attributes.builder().put("to", "nhwc").build(), List.of(x.type().withLayout(Layout.NHWC)), null, null);
        g.setOutputs(List.of(r.output()));
        return g;
    }

    /**
     * The graph {@code g} of one node, {@code signed} (its tactic forced by {@code forced}, or the rule's; the stem's graph also
     * holds the reformat it absorbs) timed at {@code gp}: from the timing cache when it holds {@code tacticId} for that node's signature, else built and timed as a CUDA graph and recorded.
     * A build the tactic refuses goes to {@code refused} with the reason; with {@code checked}, so does a layer that throws
     * when run, or writes NaN or infinity where the reference interpreter, on the same seeded inputs, does not (a broken kernel,
     * a plugin's say: TensorRT skips a tactic that fails while timed, and so does the search here).
     */
    private OptionalDouble measure(Graph g, Node signed, Map<String, String> forced, GpuEngine.Precision gp, String tacticId, boolean checked,
                                   org.tessel.tactics.plan.EnginePlan quantized, java.util.function.Function<String, OptionalDouble> refused) {
        String signature = TimingCache.signature(signed, gp.name());
        if (cache != null) {
            OptionalDouble known = fastestCached(signature, tacticId);
            if (known.isPresent()) { fromCache++; return known; }
        }
        try (GpuEngine e = quantized != null ? GpuEngine.build(g, quantized, GpuEngine.Precision.FP16, context, GpuEngine.Options.FIXED, 1)
                : GpuEngine.buildForced(g, forced, gp, context, GpuEngine.Options.FIXED, ptx);
             GpuExecutionContext c = e.createExecutionContext()) {
            ptx.putAll(e.compiler().ptx());
            if (checked) {
                String wrong = nonFinite(g, c, seeded);
                if (wrong != null) return refused.apply(wrong);
            }
            double[] ms = c.timeCopies(COPIES, WARMUP, RUNS);
            double median = GpuExecutionContext.quantile(ms, 0.5) * 1000;
            double[] dev = new double[ms.length];
            for (int i = 0; i < ms.length; i++) dev[i] = Math.abs(ms[i] * 1000 - median);
            // kept under the layer's tactic (with its variant), or under the asked id where the layer built is another
            // tactic's (a reformat the engine runs as a copy): a warm cache must answer the question asked
            String built = e.layerPlans().stream().filter(lp -> lp.node().equals(signed.name())).map(org.tessel.runtime.engine.LayerPlan::tactic).findFirst()
                    .orElse(e.layerPlans().get(0).tactic());
            if (cache != null) cache.put(signature, GpuTactics.catalogueId(built).equals(tacticId) ? built : tacticId, new Measurement(median, GpuExecutionContext.quantile(dev, 0.5), RUNS));
            measuredHere++;
            return OptionalDouble.of(Math.max(median, 1e-3));
        } catch (GpuEngineException | org.tessel.api.PluginException e) {
            return refused.apply(e.getMessage());
        }
    }

    /**
     * The seeded inputs of the one-layer graphs checked for NaN and infinity, kept by the graph inputs' types: a node is asked
     * about once per tactic, precision and layout, and generating a ResNet-50 b32 activation (25.7 M values) took about
     * 115 ms on the host each time. At most {@value #SEEDED_ELEMENTS} values are kept, least recently used dropped first.
     */
    static final class SeededInputs {
        private final java.util.LinkedHashMap<List<TensorType>, List<org.tessel.api.Tensor>> kept = new java.util.LinkedHashMap<>(16, 0.75f, true);
        private long elements;

        List<org.tessel.api.Tensor> of(Graph g) {
            List<TensorType> key = g.inputs().stream().map(Value::type).toList();
            List<org.tessel.api.Tensor> in = kept.get(key);
            if (in != null) return in;
            in = GpuEngineBench.inputs(g, new java.util.SplittableRandom(7), -1, 1);
            long n = in.stream().mapToLong(org.tessel.api.Tensor::size).sum();
            if (n > SEEDED_ELEMENTS) return in;
            kept.put(key, in);
            elements += n;
            for (var it = kept.entrySet().iterator(); elements > SEEDED_ELEMENTS && it.hasNext(); ) {
                var e = it.next();
                elements -= e.getValue().stream().mapToLong(org.tessel.api.Tensor::size).sum();
                it.remove();
            }
            return in;
        }

        int size() { return kept.size(); }
    }

    /** Values the tuner keeps as seeded inputs (f32 or i64 on the host). */
    static final long SEEDED_ELEMENTS = 128L << 20;

    private final SeededInputs seeded = new SeededInputs();

    /**
     * One run of the one-layer engine on seeded inputs: null when every output element the reference interpreter computes
     * finite is finite here too, else which output and element are not (or what the run threw).
     */
    private static boolean anyNonFinite(List<org.tessel.api.Tensor> ts) {
        for (org.tessel.api.Tensor t : ts) {
            if (!t.dtype().isFloating()) continue;
            for (int i = 0; i < t.size(); i++) if (!Double.isFinite(t.getDouble(i))) return true;
        }
        return false;
    }

    static String nonFinite(Graph g, GpuExecutionContext c, SeededInputs seeded) {
        List<org.tessel.api.Tensor> in;
        try {
            in = seeded.of(g);
        } catch (IllegalArgumentException e) {
            return null; // inputs with no random range (integers indexing nothing): timed on zeros, not checked
        }
        List<org.tessel.api.Tensor> got;
        try {
            got = c.run(in);
        } catch (RuntimeException e) {
            return "the layer failed when run: " + e.getMessage();
        }
        // the reference interpreter only to judge a layer that wrote NaN or infinity: a whole b32 convolution takes it seconds
        // on the host, and every timed candidate is checked (ResNet-50 b32's cold tuning ran past 150 s on an H100)
        if (!anyNonFinite(got)) return null;
        Map<String, org.tessel.api.Tensor> named = new HashMap<>();
        for (int i = 0; i < in.size(); i++) named.put(g.inputs().get(i).name(), in.get(i));
        Map<String, org.tessel.api.Tensor> want = new org.tessel.ir.ReferenceInterpreter().run(g, named);
        for (int o = 0; o < got.size(); o++) {
            org.tessel.api.Tensor w = want.get(g.outputs().get(o).name()), x = got.get(o);
            if (w == null || !w.dtype().isFloating() || !x.dtype().isFloating()) continue;
            for (int i = 0; i < Math.min(w.size(), x.size()); i++) {
                double wi = w.getDouble(i), xi = x.getDouble(i);
                if (Double.isFinite(wi) && !Double.isFinite(xi))
                    return "wrote " + xi + " at element " + i + " of output '" + g.outputs().get(o).name() + "' where the reference interpreter computes " + wi;
            }
        }
        return null;
    }

    /** True when a GPU implementation of {@code tacticId} computes {@code n}'s op: a question this tuner answers. */
    static boolean measures(Node n, String tacticId) {
        TacticImplementation impl = TacticImplementations.loaded().of(tacticId);
        return impl != null && impl.computes(n);
    }

    private OptionalDouble refuse(Node n, String tacticId, Precision p, Layout l, String why) {
        refused++;
        if (refusals.size() < 20) refusals.add(n.describe() + " " + tacticId + " " + p.text() + "/" + l.text() + ": " + why);
        return OptionalDouble.empty();
    }

    /** The fastest cached measurement of this signature under any variant of the catalogue id. */
    private OptionalDouble fastestCached(String signature, String tacticId) { return fastestCached(cache, signature, tacticId); }

    /** The fastest measurement {@code cache} holds of this signature under any variant of the catalogue id. */
    static OptionalDouble fastestCached(TimingCache cache, String signature, String tacticId) {
        double best = Double.NaN;
        for (var e : cache.entries().entrySet())
            if (e.getKey().signature().equals(signature) && GpuTactics.catalogueId(e.getKey().tactic()).equals(tacticId)
                    && (Double.isNaN(best) || e.getValue().medianUs() < best)) best = e.getValue().medianUs();
        return Double.isNaN(best) ? OptionalDouble.empty() : OptionalDouble.of(Math.max(best, 1e-3));
    }

    /**
     * {@code n} alone: its activations are graph inputs (rank-4 ones in layout {@code l} where the node cares about
     * layouts), its constants copied, its outputs in that layout too; the first output is the graph's output.
     */
    static Graph alone(Node n, Layout l) {
        Graph g = new Graph("tune_" + n.name().replaceAll("[^A-Za-z0-9_]", "_"));
        boolean layouts = NodeFacts.layoutMatters(n) && (l == Layout.NHWC || l == Layout.NCHW);
        Map<Value, Value> copied = new IdentityHashMap<>();
        List<Value> ins = new ArrayList<>();
        for (Value v : n.inputs()) {
            if (v == null) { ins.add(null); continue; }
            Value c = copied.get(v);
            if (c == null) {
                c = v.isConstant() ? g.addConstantExact(g.uniqueValueName(v.name()), v.constantValue(), v.type())
                        : g.addInput(g.uniqueValueName(v.name()), layouts ? laidOut(v.type(), l) : v.type());
                copied.put(v, c);
            }
            ins.add(c);
        }
        List<TensorType> outs = new ArrayList<>();
        for (Value o : n.outputs()) outs.add(layouts ? laidOut(o.type(), l) : o.type());
        Node m = g.insertNode(0, n.op(), n.name(), ins, n.attrs(), outs, null, n.body());
        g.setOutputs(List.of(m.output()));
        return g;
    }

    private static TensorType laidOut(TensorType t, Layout l) { return t.rank() == 4 ? t.withLayout(l) : t; }

    /** Measurements taken on the device in this build. */
    public int measuredHere() { return measuredHere; }

    /** Answers from the timing cache (no build). */
    public int fromCache() { return fromCache; }

    /**
     * Questions no engine answered: the tactic failed (did not build or launch, or wrote NaN or infinity where the reference does
     * not: the search drops those choices and names them), or the node or reformat could not be set up alone ({@link #refusals()}
     * names the first of these).
     */
    public int refused() { return refused; }

    public List<String> refusals() { return List.copyOf(refusals); }

    /** Seconds spent measuring (building, timing, cache lookups). */
    public double seconds() { return nanos / 1e9; }

    @Override public String describe() { return context.device().name() + (cache == null ? "" : " (timing cache " + cache.size() + " entries)"); }
}
