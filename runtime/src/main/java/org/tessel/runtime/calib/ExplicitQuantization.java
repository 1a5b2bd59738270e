package org.tessel.runtime.calib;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.runtime.engine.PrecisionEmulation;

/**
 * Explicit quantization, as TensorRT builds Q/DQ networks: an imported model that carries
 * QuantizeLinear/DequantizeLinear nodes is turned into a float graph plus the scales the model
 * states, so it builds as an INT8 plan with the model's own scales and no calibration.
 * <ul>
 * <li>An activation pair {@code x -> QuantizeLinear(s, int8 0) -> DequantizeLinear(s, int8 0)} is
 *     removed (readers of the DQ read x) and {@code s} recorded as x's per-tensor scale. A
 *     {@code Clip(-127 s, 127 s)} right before the Q (what `tessel export-qdq` writes, TensorRT's
 *     symmetric range) goes with it.
 * <li>A weight {@code DequantizeLinear(int8 constant, s, 0)} (per tensor or per axis) and a bias
 *     {@code DequantizeLinear(int32 constant, s, 0)} are folded into float constants, codes * s.
 * <li>A folded weight moved by Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather or
 *     Identity on its way to a contraction (ModelOpt's {@code DQ -> Transpose -> MatMul}) is moved as
 *     a constant, its scales with it.
 * <li>A Conv/ConvTranspose/Gemm/MatMul whose floating activation inputs all came through a pair and
 *     whose weight (when it is a constant) through a weight DQ is marked to run at INT8, and its
 *     weight's scales, one per output channel ({@link Result#weightScales}), are the ones the engine
 *     quantizes that weight with: the model's own codes come back exactly, whatever grid the model
 *     chose (a per-tensor scale, or channels whose largest code is below 127). Scales that vary along
 *     another axis than the output channels' are refused naming the node.
 * </ul>
 * Before folding, {@link QdqPropagation} carries activation pairs through the ops that commute with
 * quantization (MaxPool, Reshape, Transpose, Relu, ...), as TensorRT propagates Q/DQ, so pairs placed
 * before a MaxPool or a Reshape still quantize the contraction after it.
 * The same holds for FP8: pairs through float8 e4m3fn ({@code QuantizeLinear} with an f8e4m3 zero
 * point of 0, or {@code output_dtype} 17; opset 19+), weights as f8e4m3 constants, and the marked
 * nodes run at FP8 ({@link Result#format}). One model has one format: int8 and float8 Q/DQ mixed
 * are refused, naming the node; so is {@code saturate=0} on an activation's Q (the engine's FP8
 * saturates at +-448, ONNX's default).
 * Anything else in Q/DQ form is refused, naming the node: a non-zero zero point (asymmetric), uint8,
 * a Q no DQ reads, a DQ of a tensor no Q made, a per-axis or blocked activation scale, a scale that is
 * not a positive finite f32 constant.
 * <p>A tensor read through pairs at two or more scales (two readers that want it at different scales,
 * a residual Add whose input pair differs from the pair on the producing Conv's output), as TensorRT
 * builds it: no Q can fuse into the producer, which writes the tensor in float; each pair stays a
 * QuantizeLinear/DequantizeLinear on its reader's edge (a quantize layer, priced by the plan as any
 * elementwise layer), and its DQ output carries its own scale, so a contraction reading it still runs
 * quantized. The engine then computes exactly ONNX's semantics: every reader sees the tensor rounded
 * once, at its own scale ({@link Result#requantized}). In a chain of pairs at two scales (Q -> DQ ->
 * Q -> DQ) the first folds onto the tensor and the second stays nodes: a requantize, as ONNX rounds twice.
 *
 * <p>The plan carries the weight scales ({@code QuantizationTable#weights}); the CPU engine
 * ({@link PrecisionEmulation#fakeQuantizeWeight(Tensor, int, org.tessel.cost.Precision, float[])}) and the GPU's
 * INT8 layers quantize the folded weight at them, which gives back the model's codes (a folded value
 * is code * scale in f32, and dividing by the scale rounds back to the code).
 */
public final class ExplicitQuantization {
    private ExplicitQuantization() {}

    /** A Q/DQ model that cannot be built by explicit quantization; the message names the node. */
    public static final class QdqException extends IllegalArgumentException {
        public QdqException(String m) { super(m); }
    }

    /**
     * What folding did.
     *
     * @param scales          per-tensor scale per activation value name of the folded graph
     * @param quantizedNodes  nodes the Q/DQ placement marks INT8 (FP8 for float8 Q/DQ) (by name, in graph order)
     * @param activationPairs activation Q/DQ pairs removed
     * @param weights         weight (and bias) DequantizeLinear nodes folded into constants
     * @param weightScales    per weight a Conv/ConvTranspose/Gemm/MatMul reads (by value name), the model's scale of each output channel
     *                        (along the node's channel axis; a per-tensor scale repeated)
     * @param pairReaders     per folded activation tensor, the nodes that read it through its pair ("" for a graph output)
     * @param kept            activation tensors whose pairs were asked to stay nodes (not folded)
     * @param requantized     per activation tensor read through pairs at two or more scales, the outputs of its pairs' DQs: those
     *                        pairs stay QuantizeLinear/DequantizeLinear nodes (each the quantize on its reader's edge), each DQ
     *                        output has its pair's scale in {@link #scales}, and the tensor itself none (its producer writes it in
     *                        float); in a chain of pairs (Q -> DQ -> Q -> DQ at another scale) the first folds and the next stays nodes
     * @param format          the quantized precision the Q/DQ states: INT8 for int8 Q/DQ, FP8 for float8 e4m3fn
     * @param propagation     the pairs {@link QdqPropagation} added before folding
     */
    public record Result(Map<String, Float> scales, List<String> quantizedNodes, int activationPairs, int weights, Map<String, float[]> weightScales,
                         Map<String, List<String>> pairReaders, Set<String> kept, Map<String, List<String>> requantized, org.tessel.cost.Precision format,
                         QdqPropagation.Result propagation) {
        public String describe() {
            String f = format.text().toUpperCase(Locale.ROOT);
            return String.format(Locale.ROOT, "explicit quantization from %d Q/DQ pairs and %d quantized weights (the model's scales, no calibration); %d nodes marked %s",
                    activationPairs + kept.size() + requantized.values().stream().mapToInt(List::size).sum(), weights, quantizedNodes.size(), f)
                    + (propagation.total() == 0 ? "" : String.format(Locale.ROOT, "; %d pair(s) propagated through commuting ops (%d forward, %d backward)",
                    propagation.total(), propagation.forward(), propagation.backward()))
                    + (kept.isEmpty() ? "" : String.format(Locale.ROOT, "; %d pair(s) kept as QuantizeLinear/DequantizeLinear nodes, since no %s node reads or writes their tensor: %s",
                    kept.size(), f, String.join(", ", kept.stream().map(k -> "%" + k).toList())))
                    + (requantized.isEmpty() ? "" : "; " + requantized.size() + " tensor(s) read at several scales, the pairs on their readers' edges kept as "
                    + "QuantizeLinear/DequantizeLinear nodes: " + String.join(", ", requantized.entrySet().stream()
                    .map(e -> "%" + e.getKey() + " (" + e.getValue().size() + " pairs)").toList()));
        }
    }

    /** True when the graph has a QuantizeLinear or DequantizeLinear node. */
    public static boolean present(Graph g) {
        for (Node n : g.nodes()) if (isQ(n) || isDq(n)) return true;
        return false;
    }

    private static boolean isQ(Node n) { return n.opName().equals("QuantizeLinear"); }

    private static boolean isDq(Node n) { return n.opName().equals("DequantizeLinear"); }

    /** Removes the Q/DQ structure from {@code g} (in place) and returns the scales and INT8 nodes it stated. */
    public static Result fold(Graph g) { return fold(g, Set.of()); }

    /**
     * As {@link #fold(Graph)}, but the activation pairs on the tensors named in {@code keep} (names
     * as the folded graph has them) stay QuantizeLinear/DequantizeLinear nodes, which the engine
     * runs as they are (the rounding the model asks for where no INT8 node does it).
     */
    public static Result fold(Graph g, Set<String> keep) {
        org.tessel.cost.Precision format = format(g);
        QdqPropagation.Result propagation = QdqPropagation.propagate(g);
        Map<Value, List<String>> readersOf = new LinkedHashMap<>();
        Set<String> kept = new java.util.TreeSet<>();
        Map<Value, Float> scaleOf = new LinkedHashMap<>();
        Map<String, List<String>> requantized = new LinkedHashMap<>();
        // per folded weight, its scale broadcast to its shape: moved with it, read per channel where a contraction reads it
        Map<Value, Tensor> weightScaleOf = new LinkedHashMap<>();
        int pairs = 0, weights = 0;
        // every Q must be read by DQs only
        for (Node q : List.copyOf(g.nodes())) {
            if (!isQ(q)) continue;
            if (!q.input(0).isConstant()) checkQuantizer(g, q);
            List<Node> users = g.users(q.output(0));
            if (users.isEmpty() || g.outputs().contains(q.output(0)))
                throw new QdqException(q.describe() + ": its int8 output %" + q.output(0).name() + " is " + (users.isEmpty() ? "read by no DequantizeLinear" : "a graph output")
                        + "; explicit quantization takes QuantizeLinear -> DequantizeLinear pairs");
            for (Node u : users)
                if (!isDq(u))
                    throw new QdqException(q.describe() + ": its int8 output %" + q.output(0).name() + " is read by " + u.describe()
                            + ", not a DequantizeLinear; explicit quantization takes QuantizeLinear -> DequantizeLinear pairs");
        }
        Map<Node, Set<Float>> scalesRead = scalesRead(g);
        for (Node dq : List.copyOf(g.nodes())) {
            if (!isDq(dq)) continue;
            Value x = dq.input(0);
            Node q = x.producer();
            if (q != null && isQ(q) && q.input(0).isConstant()) {
                // a float weight quantized in the graph: folded to its dequantized codes
                weightScale(q);
                weightScale(dq);
                Tensor codes = evaluate(q, q.input(0).constantValue());
                Tensor folded = evaluate(dq, codes);
                Value c = replaceByConstant(g, dq, q.input(0).name() + "_qdq", folded);
                if (g.users(q.output(0)).isEmpty()) g.removeNode(q);
                if (q.output(0).type().dtype() == format.storage()) weightScaleOf.put(c, broadcastScale(dq, folded));
                weights++;
                continue;
            }
            if (q != null && isQ(q)) {
                if (q.attrs().getInt("saturate", 1) == 0 && q.output(0).type().dtype() == DType.F8E4M3)
                    throw new QdqException(q.describe() + ": saturate=0 (values past 448 become NaN); the engine's FP8 saturates at +-448 (ONNX's default saturate=1)");
                float s = checkQuantizer(g, dq);
                float qs = scalar(q, 1);
                if (Float.floatToIntBits(s) != Float.floatToIntBits(qs))
                    throw new QdqException(dq.describe() + ": scale " + s + " differs from its QuantizeLinear " + q.describe() + "'s " + qs + "; a pair quantizes and dequantizes at one scale");
                Value src = q.input(0);
                Node clip = src.producer();
                boolean dropClip = droppableClip(g, q, s);
                Value real = dropClip ? clip.input(0) : src;
                Value out = dq.output(0);
                Float prev = scaleOf.get(real);
                // read at several scales (or, through a chain of pairs, already folded at another): this pair stays Q -> DQ nodes,
                // the quantize on its reader's edge, and its output has its own scale
                if (scalesRead.get(dq).size() > 1 || prev != null && Float.floatToIntBits(prev) != Float.floatToIntBits(s)) {
                    requantized.computeIfAbsent(real.name(), k -> new ArrayList<>()).add(out.name());
                    scaleOf.put(out, s);
                    continue;
                }
                String outName = out.name();
                String finalName = real.name().equals(outName + "_f32") ? outName : real.name();
                if (keep.contains(finalName)) {
                    kept.add(finalName);
                    continue;
                }
                List<String> readers = readersOf.computeIfAbsent(real, k -> new ArrayList<>());
                for (Node u : g.users(out)) readers.add(u.name());
                if (g.outputs().contains(out)) readers.add("");
                g.replaceAllUses(out, real);
                g.removeNode(dq);
                if (g.users(q.output(0)).isEmpty()) {
                    g.removeNode(q);
                    if (dropClip && g.users(clip.output(0)).isEmpty()) g.removeNode(clip);
                }
                // export-qdq renamed the tensor it quantized NAME_f32 and gave the DQ output NAME: the tensor gets its name back
                if (real.name().equals(outName + "_f32") && g.value(outName) == null) g.renameValue(real, outName);
                scaleOf.put(real, s);
                pairs++;
                continue;
            }
            if (!x.isConstant())
                throw new QdqException(dq.describe() + ": it dequantizes %" + x.name() + ", which is neither a QuantizeLinear's output nor a constant; "
                        + "explicit quantization takes activation Q/DQ pairs and int8 weights");
            DType t = x.type().dtype();
            if (t == DType.U8) throw new QdqException(dq.describe() + ": uint8 weight %" + x.name() + "; Tessel's INT8 is symmetric int8 (zero point 0)");
            if (t != DType.I8 && t != DType.I32 && t != DType.F8E4M3)
                throw new QdqException(dq.describe() + ": " + t.text() + " weight %" + x.name() + "; explicit quantization takes int8 or f8e4m3 weights and int32 biases");
            weightScale(dq);
            Tensor folded = evaluate(dq, x.constantValue());
            Value c = replaceByConstant(g, dq, x.name() + "_dequantized", folded);
            if (t == format.storage()) weightScaleOf.put(c, broadcastScale(dq, folded));
            weights++;
        }
        moveWeights(g, weightScaleOf);
        g.removeUnusedConstants();
        List<String> int8 = new ArrayList<>();
        Map<String, float[]> weightScales = new LinkedHashMap<>();
        Map<String, Float> scales = new LinkedHashMap<>();
        for (var e : scaleOf.entrySet()) scales.put(e.getKey().name(), e.getValue());
        Map<String, List<String>> pairReaders = new LinkedHashMap<>();
        for (var e : readersOf.entrySet()) pairReaders.put(e.getKey().name(), List.copyOf(e.getValue()));
        for (Node n : g.nodes()) {
            if (!PrecisionEmulation.TENSOR_CORE_OPS.contains(n.opName()) || PrecisionEmulation.weightChannelAxis(n) < 0) continue;
            boolean ok = true;
            for (int k = 0; k < n.numInputs() && ok; k++) {
                Value v = n.input(k);
                if (v == null || !v.type().dtype().isFloating()) continue;
                if (v.isConstant()) ok = k != 1 || weightScaleOf.containsKey(v);
                else ok = scaleOf.containsKey(v);
            }
            if (ok) int8.add(n.name());
            Value w = n.input(1);
            if (!w.isConstant() || !weightScaleOf.containsKey(w)) continue;
            // a node the Q/DQ leaves unmarked may still run quantized where the search puts it: its weight keeps the model's scales when they are per channel
            float[] ch;
            try {
                ch = channelScales(n, w, weightScaleOf.get(w));
            } catch (QdqException e) {
                if (ok) throw e;
                continue;
            }
            float[] prev = weightScales.putIfAbsent(w.name(), ch);
            if (prev != null && !java.util.Arrays.equals(prev, ch))
                throw new QdqException(n.describe() + ": weight %" + w.name() + " is read along other output channels by another node; a weight has one set of channel scales");
        }
        return new Result(scales, int8, pairs, weights, weightScales, pairReaders, kept, requantized, format, propagation);
    }

    /**
     * Per activation pair (by its DQ), the distinct scales of all the pairs that read the same tensor
     * (through the Clip export-qdq puts before a Q, which is the tensor's), as the model has them
     * before folding. Validates each pair's DQ on the way.
     */
    private static Map<Node, Set<Float>> scalesRead(Graph g) {
        Map<Value, Set<Float>> byTensor = new LinkedHashMap<>();
        Map<Node, Set<Float>> out = new LinkedHashMap<>();
        for (Node dq : g.nodes()) {
            if (!isDq(dq)) continue;
            Node q = dq.input(0).producer();
            if (q == null || !isQ(q) || q.input(0).isConstant()) continue;
            float s = checkQuantizer(g, dq);
            Value src = q.input(0);
            Set<Float> scales = byTensor.computeIfAbsent(droppableClip(g, q, s) ? src.producer().input(0) : src, k -> new java.util.TreeSet<>());
            scales.add(s);
            out.put(dq, scales);
        }
        return out;
    }

    /** True when Q's input is a Clip(-127 s, 127 s) that only this Q reads: it goes with the pair. */
    private static boolean droppableClip(Graph g, Node q, float s) {
        Value src = q.input(0);
        Node clip = src.producer();
        return clip != null && clip.opName().equals("Clip") && isSymmetricClip(clip, s) && g.users(src).size() == 1 && !g.outputs().contains(src);
    }

    /**
     * The quantized precision a model's Q/DQ states: FP8 when its Qs make (its DQs read) f8e4m3, else
     * INT8. A model mixing int8 and float8 Q/DQ is refused naming the first node of the other kind:
     * a plan carries one format.
     */
    public static org.tessel.cost.Precision format(Graph g) {
        Node first8 = null, firstInt = null;
        for (Node n : g.nodes()) {
            DType t = isQ(n) ? n.output(0).type().dtype() : isDq(n) ? n.input(0).type().dtype() : null;
            if (t == null || t == DType.I32) continue; // an int32 bias goes with either
            if (t.isFloat8() && t != DType.F8E4M3)
                throw new QdqException(n.describe() + ": float8" + t.text().substring(2) + " Q/DQ; the engine's FP8 is E4M3 (float8e4m3fn), so explicit quantization takes int8 or float8e4m3fn pairs "
                        + "(the reference interpreter runs it as ONNX defines it)");
            if (t == DType.F8E4M3) { if (first8 == null) first8 = n; }
            else if (firstInt == null) firstInt = n;
        }
        if (first8 != null && firstInt != null)
            throw new QdqException(first8.describe() + ": float8 Q/DQ in a model with integer Q/DQ (" + firstInt.describe() + "); a plan has one quantized format, INT8 or FP8");
        return first8 != null ? org.tessel.cost.Precision.FP8 : org.tessel.cost.Precision.INT8;
    }

    /** Validates a weight Q/DQ's scale (positive finite f32, per tensor or per axis) and zero point (0). */
    private static void weightScale(Node n) {
        Tensor scale = constant(n, 1, isQ(n) ? "y_scale" : "x_scale");
        if (scale.dtype() != DType.F32) throw new QdqException(n.describe() + ": scale is " + scale.dtype().text() + "; explicit quantization takes f32 scales");
        for (int i = 0; i < scale.size(); i++) {
            float v = scale.getFloat(i);
            if (!(v > 0) || Float.isInfinite(v))
                throw new QdqException(n.describe() + ": scale " + v + (scale.size() > 1 ? " (element " + i + ")" : "") + " is not positive and finite");
        }
        zeroPoint(n);
        long block = n.attrs().getInt("block_size", 0);
        if (block != 0) throw new QdqException(n.describe() + ": blocked quantization (block_size " + block + ") is not taken; use per-tensor or per-axis scales");
    }

    /** The node evaluated on {@code x} and its constant scale and zero point. */
    private static Tensor evaluate(Node n, Tensor x) {
        List<Tensor> ins = new ArrayList<>();
        ins.add(x);
        for (int k = 1; k < n.numInputs(); k++) ins.add(n.input(k) == null ? null : n.input(k).constantValue());
        return new org.tessel.ir.ReferenceInterpreter().evaluate(n, ins).getFirst();
    }

    /** Replaces the DQ by a constant holding {@code folded}, which takes the DQ output's name. */
    private static Value replaceByConstant(Graph g, Node dq, String base, Tensor folded) {
        Value c = g.addConstant(g.uniqueValueName(base), folded);
        Value out = dq.output(0);
        String outName = out.name();
        g.replaceAllUses(out, c);
        g.removeNode(dq);
        if (g.value(outName) == null) g.renameValue(c, outName);
        return c;
    }

    /** Ops that move a folded weight's values without computing on them; its scales move the same way. */
    private static final Set<String> WEIGHT_MOVES = Set.of("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Gather", "Identity");

    /** The DQ's scale for every element of {@code w} (the DQ's output): its one scale, or the scale of the element's index along the DQ's axis. */
    private static Tensor broadcastScale(Node dq, Tensor w) {
        Tensor s = dq.input(1).constantValue();
        float[] out = new float[w.size()];
        if (s.size() == 1) {
            java.util.Arrays.fill(out, s.getFloat(0));
        } else {
            int[] d = w.shape().dims();
            int axis = (int) dq.attrs().getInt("axis", 1);
            if (axis < 0) axis += d.length;
            int inner = 1;
            for (int i = axis + 1; i < d.length; i++) inner *= d[i];
            for (int i = 0; i < out.length; i++) out[i] = s.getFloat((i / inner) % d[axis]);
        }
        return Tensor.ofFloats(DType.F32, w.shape(), out);
    }

    /**
     * Folds the data movement a folded weight goes through (Reshape, Transpose, ... with constant
     * operands) into the constant, and moves its broadcast scales the same way (the same op on them).
     */
    private static void moveWeights(Graph g, Map<Value, Tensor> weightScaleOf) {
        for (Node p : List.copyOf(g.nodes())) {
            if (!WEIGHT_MOVES.contains(p.opName()) || p.outputs().size() != 1 || !weightScaleOf.containsKey(p.input(0))) continue;
            boolean constant = true;
            for (Value v : p.inputs()) if (v != null && !v.isConstant()) constant = false;
            if (!constant) continue;
            Value w = p.input(0);
            Tensor moved = evaluate(p, w.constantValue()), scales = evaluate(p, weightScaleOf.get(w));
            Value c = replaceByConstant(g, p, w.name() + "_" + p.opName().toLowerCase(Locale.ROOT), moved);
            weightScaleOf.put(c, scales);
        }
    }

    /**
     * The scale of each output channel of contraction {@code n}'s weight {@code w}, from its broadcast
     * scales; refused naming the node when the scales vary within a channel (a per-axis scale along
     * another axis, which no INT8 kernel can apply after its sums).
     */
    private static float[] channelScales(Node n, Value w, Tensor scales) {
        int axis = PrecisionEmulation.weightChannelAxis(n);
        int[] d = scales.shape().dims();
        int ch = d[axis], inner = 1;
        for (int i = axis + 1; i < d.length; i++) inner *= d[i];
        float[] out = new float[ch];
        boolean[] seen = new boolean[ch];
        for (int i = 0; i < scales.size(); i++) {
            int c = (i / inner) % ch;
            float v = scales.getFloat(i);
            if (!seen[c]) { out[c] = v; seen[c] = true; }
            else if (Float.floatToIntBits(out[c]) != Float.floatToIntBits(v))
                throw new QdqException(String.format(Locale.ROOT, "%s: weight %%%s's scales vary within output channel %d (axis %d: %s and %s); "
                        + "the quantized kernels scale per output channel, so a weight's DequantizeLinear must be per tensor or per output channel", n.describe(), w.name(), c, axis, out[c], v));
        }
        return out;
    }

    /** Validates a Q or DQ's scale (a positive finite f32 per-tensor constant) and zero point (int8 0); returns the scale. */
    private static float checkQuantizer(Graph g, Node n) {
        if (n.attrs().getInt("block_size", 0) != 0) throw new QdqException(n.describe() + ": blocked quantization of an activation is not taken; activations are quantized per tensor");
        Tensor s = constant(n, 1, isQ(n) ? "y_scale" : "x_scale");
        if (s.size() != 1)
            throw new QdqException(n.describe() + ": per-axis activation scale (" + s.size() + " elements); Tessel quantizes activations per tensor (one scale)");
        if (s.dtype() != DType.F32) throw new QdqException(n.describe() + ": scale is " + s.dtype().text() + "; explicit quantization takes f32 scales");
        float v = s.getFloat(0);
        if (!(v > 0) || Float.isInfinite(v)) throw new QdqException(n.describe() + ": scale " + v + " is not positive and finite");
        zeroPoint(n);
        return v;
    }

    private static float scalar(Node n, int k) { return n.input(k).constantValue().getFloat(0); }

    private static Tensor constant(Node n, int k, String what) {
        Value v = k < n.numInputs() ? n.input(k) : null;
        if (v == null || !v.isConstant())
            throw new QdqException(n.describe() + ": " + what + (v == null ? " is missing" : " %" + v.name() + " is computed, not a constant") + "; explicit quantization takes constant scales");
        return v.constantValue();
    }

    /** The zero point must be there, int8 (int32 for a bias), and all zeros: Tessel's INT8 is symmetric. */
    private static void zeroPoint(Node n) {
        Value z = n.numInputs() > 2 ? n.input(2) : null;
        if (z == null) {
            // QuantizeLinear without a zero point (and without output_dtype) makes uint8
            if (isQ(n) && n.output(0).type().dtype() == DType.U8)
                throw new QdqException(n.describe() + ": no zero point, so it quantizes to uint8; Tessel's INT8 is symmetric int8: give an int8 zero point of 0");
            if (isQ(n) && n.output(0).type().dtype() != DType.I8 && n.output(0).type().dtype() != DType.F8E4M3)
                throw new QdqException(n.describe() + ": quantizes to " + n.output(0).type().dtype().text() + "; Tessel's INT8 is symmetric int8");
            return;
        }
        if (!z.isConstant()) throw new QdqException(n.describe() + ": zero point %" + z.name() + " is computed, not a constant");
        Tensor t = z.constantValue();
        if (t.dtype() == DType.U8)
            throw new QdqException(n.describe() + ": uint8 zero point; Tessel's INT8 is symmetric int8 (an int8 zero point of 0)");
        for (int i = 0; i < t.size(); i++)
            if (t.getDouble(i) != 0)
                throw new QdqException(n.describe() + ": zero point " + t.getLong(i) + (t.size() > 1 ? " (element " + i + ")" : "")
                        + " is not 0: asymmetric quantization; Tessel's INT8 is symmetric (zero point 0)");
    }

    /** True for Clip(x, -127 s, 127 s), the symmetric range export-qdq puts before a Q. */
    private static boolean isSymmetricClip(Node c, float s) {
        if (c.numInputs() < 3 || c.input(1) == null || c.input(2) == null || !c.input(1).isConstant() || !c.input(2).isConstant()) return false;
        Tensor lo = c.input(1).constantValue(), hi = c.input(2).constantValue();
        if (lo.size() != 1 || hi.size() != 1) return false;
        return lo.getFloat(0) == -127 * s && hi.getFloat(0) == 127 * s;
    }
}
