package org.tessel.ir;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;

/**
 * The network-definition API (Tessel's INetworkDefinition): builds a graph op by op, inferring and
 * checking types as it goes, so a wrong shape fails at the line that made it, naming the node.
 *
 * <pre>{@code
 * var b = new NetworkBuilder("tiny");
 * Value x = b.input("x", DType.F32, 1, 3, 32, 32);
 * Value y = b.relu(b.conv(x, b.randomWeights("w", 8, 3, 3, 3), null, 1, 1));
 * Graph g = b.output(y).build();
 * }</pre>
 */
public class NetworkBuilder {
    protected final Graph graph;
    protected final OpRegistry registry;
    private final SplittableRandom random;
    private final long seed;
    private String scope = "";
    private String pendingName;
    private java.util.function.Function<String, Tensor> deferredSource;

    public NetworkBuilder(String name) { this(name, OpRegistry.global(), 42); }

    public NetworkBuilder(String name, OpRegistry registry, long seed) {
        this.graph = new Graph(name);
        this.registry = registry;
        this.random = new SplittableRandom(seed);
        this.seed = seed;
    }

    public Graph graph() { return graph; }

    /**
     * Takes the data of the deferred constants made from now on from {@code source} by their scoped
     * name (still on first use) instead of drawing them from the seed: how a model graph gets trained
     * weights. The source must give a tensor of the constant's type.
     */
    public NetworkBuilder deferredFrom(java.util.function.Function<String, Tensor> source) { this.deferredSource = source; return this; }

    /** Prefix for node names made until the next call ("layer1.0."), so names read like the model. */
    public NetworkBuilder scope(String s) { this.scope = s; return this; }

    protected String named(String base) { return scope + base; }

    /**
     * Names the next node made (within the scope), so a typed helper's node reads like the model:
     * {@code b.name("conv1").conv(...)} gives "layer1.0.conv1". Constants do not consume the name;
     * a helper that makes several nodes gives it to the first.
     */
    public NetworkBuilder name(String nodeName) { this.pendingName = nodeName; return this; }

    public Value input(String name, DType dtype, int... dims) {
        Shape s = Shape.of(dims);
        return graph.addInput(name, new TensorType(dtype, s, Layout.ANY));
    }

    public Value input(String name, TensorType type) { return graph.addInput(name, type); }

    public Value constant(String name, Tensor t) { return graph.addConstant(named(name), t); }

    /** An f32 constant from values. */
    public Value constant(String name, Shape s, float... v) { return constant(name, Tensor.ofFloats(s, v)); }

    /** An i64 1-D constant (shapes, axes). */
    public Value longs(String name, long... v) { return constant(name, Tensor.ofLongs(DType.I64, Shape.of(v.length), v.clone())); }

    /**
     * Seeded random f32 weights with He-style scale (std = sqrt(2 / fan_in)), fan_in being the product
     * of all dimensions but the first.
     */
    public Value randomWeights(String name, int... dims) {
        Shape s = Shape.of(dims);
        long fanIn = dims.length <= 1 ? Math.max(1, dims.length == 0 ? 1 : dims[0]) : s.numElements() / dims[0];
        return constant(name, randomNormal(s, (float) Math.sqrt(2.0 / fanIn)));
    }

    /** A constant of seeded normal f32 values with the given standard deviation (embeddings, tokens). */
    public Value normalWeights(String name, float std, int... dims) { return constant(name, randomNormal(Shape.of(dims), std)); }

    /**
     * He-normal f32 weights (std = sqrt(2 / fanIn)) for layouts where fan-in is not the trailing
     * dimensions, such as a MatMul weight [in, out].
     */
    public Value heNormal(String name, long fanIn, int... dims) {
        if (fanIn <= 0) throw new IllegalArgumentException("fan-in must be positive, got " + fanIn);
        return normalWeights(name, (float) Math.sqrt(2.0 / fanIn), dims);
    }

    /** A constant of seeded uniform f32 values in [lo, hi) (normalization scales and variances). */
    public Value uniformWeights(String name, float lo, float hi, int... dims) { return constant(name, randomUniform(Shape.of(dims), lo, hi)); }

    /**
     * Seeded normal f32 weights made on first use ({@link Graph#addDeferredConstant}): their values
     * depend only on the builder's seed and the constant's scoped name, not on what was built
     * before, so graphs of one model in several shapes share their weights, and a billion-parameter
     * graph builds without holding them.
     */
    public Value deferredNormal(String name, float std, int... dims) {
        return deferred(name, Shape.of(dims), "normal " + std, r -> (float) (r.nextGaussian() * std));
    }

    /** Seeded uniform f32 weights in [lo, hi), made on first use like {@link #deferredNormal}. */
    public Value deferredUniform(String name, float lo, float hi, int... dims) {
        return deferred(name, Shape.of(dims), "uniform " + lo + " " + hi, r -> (float) (lo + (hi - lo) * r.nextDouble()));
    }

    private Value deferred(String name, Shape shape, String distribution, java.util.function.ToDoubleFunction<SplittableRandom> draw) {
        String full = named(name);
        long stream = seed * 0x9E3779B97F4A7C15L ^ full.hashCode() * 0xC2B2AE3D27D4EB4FL;
        int n = Math.toIntExact(shape.numElements());
        var source = deferredSource;
        if (source != null) return graph.addDeferredConstant(full, TensorType.of(DType.F32, shape), () -> source.apply(full));
        Drawn key = new Drawn(seed, full, shape, distribution);
        return graph.addDeferredConstant(full, TensorType.of(DType.F32, shape), () -> {
            java.lang.ref.SoftReference<Tensor> ref = DRAWN.get(key);
            Tensor t = ref == null ? null : ref.get();
            if (t != null) return t;
            SplittableRandom r = new SplittableRandom(stream);
            float[] d = new float[n];
            for (int i = 0; i < n; i++) d[i] = (float) draw.applyAsDouble(r);
            t = Tensor.ofFloats(shape, d);
            DRAWN.put(key, new java.lang.ref.SoftReference<>(t));
            return t;
        });
    }

    /** What a deferred weight's values depend on: the builder's seed, the scoped name, the shape and the distribution. */
    private record Drawn(long seed, String name, Shape shape, String distribution) {}

    /**
     * Deferred weights drawn so far, softly held: graphs of one model in several shapes (a decoder's step buckets, each
     * built anew) take the tensor another graph drew instead of drawing a billion values again; the memory goes back when
     * no graph holds it and the heap needs it.
     */
    private static final java.util.concurrent.ConcurrentHashMap<Drawn, java.lang.ref.SoftReference<Tensor>> DRAWN = new java.util.concurrent.ConcurrentHashMap<>();

    /** A rank-0 constant of the given type. */
    public Value scalar(String name, DType dtype, double v) { return constant(name, Tensor.scalar(dtype, v)); }

    /** Seeded random f32 values, normal with the given standard deviation. */
    public Tensor randomNormal(Shape s, float std) {
        float[] d = new float[Math.toIntExact(s.numElements())];
        for (int i = 0; i < d.length; i++) d[i] = (float) (gaussian() * std);
        return Tensor.ofFloats(s, d);
    }

    /** Seeded random f32 values, uniform in [lo, hi). */
    public Tensor randomUniform(Shape s, float lo, float hi) {
        float[] d = new float[Math.toIntExact(s.numElements())];
        for (int i = 0; i < d.length; i++) d[i] = (float) (lo + (hi - lo) * random.nextDouble());
        return Tensor.ofFloats(s, d);
    }

    // The JDK's ziggurat sampler: exact, seeded, and several times faster than Box-Muller, which
    // matters when the zoo draws the 10^8 weights of BERT-base or ViT-B.
    private double gaussian() { return random.nextGaussian(); }

    /** Adds a node of any registered op with one output. */
    public Value op(String opName, Attributes attrs, Value... inputs) { return node(opName, null, attrs, 1, inputs).output(); }

    /** Adds a node of any registered op; the node name defaults to the scope plus the op's name. */
    public Node node(String opName, String nodeName, Attributes attrs, int numOutputs, Value... inputs) {
        // a pending name is used up even when this node fails, so it never lands on a later one
        if (nodeName == null) nodeName = pendingName;
        pendingName = null;
        OpSchema op = registry.get(opName);
        String nn = nodeName != null ? named(nodeName) : named(op.name().toLowerCase(java.util.Locale.ROOT));
        return graph.addNode(op, graph.uniqueNodeName(nn), Arrays.asList(inputs), attrs == null ? Attributes.empty() : attrs, numOutputs);
    }

    public NetworkBuilder output(Value... vs) {
        for (Value v : vs) graph.addOutput(v);
        return this;
    }

    /** Verifies and returns the graph. */
    public Graph build() {
        Verifier.verify(graph);
        return graph;
    }

    // ---- typed helpers for the common ops -------------------------------------------------

    private static Attributes a() { return Attributes.empty(); }

    public Value conv(Value x, Value w, Value b, int stride, int pad) { return conv(x, w, b, stride, pad, 1, 1); }

    public Value conv(Value x, Value w, Value b, int stride, int pad, int dilation, int group) {
        int sp = x.type().rank() - 2;
        int[] s = new int[sp], d = new int[sp], p = new int[2 * sp];
        Arrays.fill(s, stride);
        Arrays.fill(d, dilation);
        Arrays.fill(p, pad);
        Attributes at = Attributes.builder().putInts("strides", s).putInts("pads", p).putInts("dilations", d).put("group", (long) group).build();
        return b == null ? op("Conv", at, x, w) : op("Conv", at, x, w, b);
    }

    public Value relu(Value x) { return op("Relu", a(), x); }
    public Value sigmoid(Value x) { return op("Sigmoid", a(), x); }
    public Value tanh(Value x) { return op("Tanh", a(), x); }
    public Value add(Value x, Value y) { return op("Add", a(), x, y); }
    public Value sub(Value x, Value y) { return op("Sub", a(), x, y); }
    public Value mul(Value x, Value y) { return op("Mul", a(), x, y); }
    public Value div(Value x, Value y) { return op("Div", a(), x, y); }
    public Value matmul(Value x, Value y) { return op("MatMul", a(), x, y); }

    public Value clip(Value x, float lo, float hi) {
        return op("Clip", a(), x, constant("clip_min", Tensor.scalar(x.type().dtype(), lo)), constant("clip_max", Tensor.scalar(x.type().dtype(), hi)));
    }

    public Value gemm(Value x, Value w, Value b, boolean transB) {
        Attributes at = Attributes.builder().put("transB", transB ? 1L : 0L).build();
        return b == null ? op("Gemm", at, x, w) : op("Gemm", at, x, w, b);
    }

    public Value maxPool(Value x, int kernel, int stride, int pad) { return pool("MaxPool", x, kernel, stride, pad); }
    public Value avgPool(Value x, int kernel, int stride, int pad) { return pool("AveragePool", x, kernel, stride, pad); }

    private Value pool(String opName, Value x, int kernel, int stride, int pad) {
        int sp = x.type().rank() - 2;
        int[] k = new int[sp], s = new int[sp], p = new int[2 * sp];
        Arrays.fill(k, kernel);
        Arrays.fill(s, stride);
        Arrays.fill(p, pad);
        return op(opName, Attributes.builder().putInts("kernel_shape", k).putInts("strides", s).putInts("pads", p).build(), x);
    }

    public Value globalAvgPool(Value x) { return op("GlobalAveragePool", a(), x); }

    public Value batchNorm(Value x, Value scale, Value bias, Value mean, Value var, float eps) {
        return op("BatchNormalization", Attributes.builder().put("epsilon", eps).build(), x, scale, bias, mean, var);
    }

    public Value concat(int axis, Value... xs) { return op("Concat", Attributes.builder().put("axis", (long) axis).build(), xs); }

    public Value flatten(Value x, int axis) { return op("Flatten", Attributes.builder().put("axis", (long) axis).build(), x); }

    public Value reshape(Value x, long... shape) { return op("Reshape", a(), x, longs("shape", shape)); }

    public Value transpose(Value x, int... perm) { return op("Transpose", Attributes.builder().putInts("perm", perm).build(), x); }

    public Value softmax(Value x, int axis) { return op("Softmax", Attributes.builder().put("axis", (long) axis).build(), x); }

    public Value layerNorm(Value x, Value scale, Value bias, int axis, float eps) {
        return op("LayerNormalization", Attributes.builder().put("axis", (long) axis).put("epsilon", eps).build(), x, scale, bias);
    }

    /** RMSNormalization: x / sqrt(mean(x^2 over axis..last) + eps) * scale. */
    public Value rmsNorm(Value x, Value scale, int axis, float eps) {
        return op("RMSNormalization", Attributes.builder().put("axis", (long) axis).put("epsilon", eps).build(), x, scale);
    }

    public Value gelu(Value x) { return op("Gelu", a(), x); }

    /** ONNX Gather: takes entries of {@code data} along {@code axis} at {@code indices} (embedding lookup). */
    public Value gather(Value data, Value indices, int axis) { return op("Gather", Attributes.builder().put("axis", (long) axis).build(), data, indices); }

    /** Inserts size-1 axes (opset 13+ form: the axes are a constant input). */
    public Value unsqueeze(Value x, long... axes) { return op("Unsqueeze", a(), x, longs("axes", axes)); }

    /** Removes size-1 axes (opset 13+ form: the axes are a constant input). */
    public Value squeeze(Value x, long... axes) { return op("Squeeze", a(), x, longs("axes", axes)); }

    public Value cast(Value x, DType to) { return op("Cast", Attributes.builder().put("to", (long) to.onnxCode()).build(), x); }

    /** Broadcasts x to a shape (numpy rules; the target shape is a constant input). */
    public Value expand(Value x, long... shape) { return op("Expand", a(), x, longs("shape", shape)); }

    /** A fully connected layer on the last axis: MatMul by w [in, out] then Add of b [out] (b may be null). */
    public Value linear(Value x, Value w, Value b) {
        Value y = matmul(x, w);
        return b == null ? y : add(y, b);
    }

    public List<Value> split(Value x, int axis, long... sizes) {
        Node n = node("Split", null, Attributes.builder().put("axis", (long) axis).build(), sizes.length, x, longs("split", sizes));
        return new ArrayList<>(n.outputs());
    }

    public static Attributes attrs(Object... kv) {
        Attributes.Builder b = Attributes.builder();
        for (int i = 0; i < kv.length; i += 2) {
            String k = (String) kv[i];
            Object v = kv[i + 1];
            switch (v) {
                case Integer n -> b.put(k, (long) n);
                case Long n -> b.put(k, n);
                case Float f -> b.put(k, f);
                case Double f -> b.put(k, f.floatValue());
                case String s -> b.put(k, s);
                case int[] is -> b.putInts(k, is);
                case long[] ls -> b.put(k, ls);
                case float[] fs -> b.put(k, fs);
                case Tensor t -> b.put(k, t);
                case AttrValue av -> b.put(k, av);
                default -> throw new IllegalArgumentException("attribute " + k + ": unsupported value " + v);
            }
        }
        return b.build();
    }
}
