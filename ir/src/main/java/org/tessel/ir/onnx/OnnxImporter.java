package org.tessel.ir.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import org.tessel.api.AttrSpec;
import org.tessel.api.AttrValue;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.EvalContext;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.Graph;
import org.tessel.ir.IrException;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.ops.EfficientNmsOp;
import org.tessel.ir.onnx.LegacyForms.PendingNode;
import org.tessel.ir.onnx.OnnxImportException.Kind;
import org.tessel.ir.onnx.proto.Onnx.AttributeProto;
import org.tessel.ir.onnx.proto.Onnx.GraphProto;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.NodeProto;
import org.tessel.ir.onnx.proto.Onnx.OperatorSetIdProto;
import org.tessel.ir.onnx.proto.Onnx.StringStringEntryProto;
import org.tessel.ir.onnx.proto.Onnx.TensorProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.TypeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * Reads an ONNX model into a verified Tessel {@link Graph}.
 *
 * <p>What happens on the way in:
 * <ul>
 *   <li>Graph inputs get static types: a symbolic first dimension takes the batch size (1 unless
 *       {@link Options#withBatchSize} says otherwise), other symbolic dimensions take the values
 *       given by name ({@link Options#withDim}) or, for names starting with "seq", the sequence
 *       length ({@link Options#withSequenceLength}). A size given for a dimension no input has is
 *       refused, listing the inputs' symbolic dimensions.</li>
 *   <li>A batch size asked of a model whose inputs have a fixed first dimension of 1 rebatches it
 *       when every value computed from the inputs scales with the batch (the model imported at
 *       batch 1 and at batch N, value by value); a node that pins the batch (a Reshape to a
 *       constant shape, a reduction over the batch) is named and the import refused, as is a
 *       fixed first dimension other than 1 and N.</li>
 *   <li>Declared graph-output types must agree with the inferred ones (element type, rank, fixed
 *       dimensions); a disagreement is refused naming the output.</li>
 *   <li>Initializers and Constant nodes become constants. A graph input that also has an
 *       initializer (ONNX IR version 4 and later allow a caller to override it) is imported as
 *       that constant: Tessel builds engines for fixed weights.</li>
 *   <li>Nodes written for an older opset of the default domain are rewritten into the opset-21
 *       form the IR's ops implement ({@link LegacyForms}). Opsets 1 to 28 are read ({@link Opsets}
 *       says why each is safe); a newer or invalid opset is refused naming it and the range.</li>
 *   <li>TensorRT's {@code EfficientNMS_TRT} is read from domain "TRT" and, as some exporters write it, from
 *       the default domain ({@link org.tessel.ir.ops.EfficientNmsOp}); ops whose output shape depends on
 *       the data (NonZero, NonMaxSuppression, ...) are refused saying so, pointing to that fixed-shape form.</li>
 *   <li>With folding on (the default), every pure node whose inputs are all constants is
 *       evaluated with its op's reference implementation and replaced by the resulting constant;
 *       {@code Shape} and {@code Size} fold whatever their input, since shapes are static. This
 *       turns the Shape, Gather, Concat, Reshape chains of exported models, and the
 *       ConstantOfShape weights of ONNX's "light" models, into plain constants. QuantizeLinear and
 *       DequantizeLinear are not folded (a Q/DQ model's int8 weights stay int8 with their
 *       DequantizeLinear, for explicit quantization); the passes' constant folding folds them.</li>
 *   <li>ONNX value names are kept; empty node names are made from the op type.</li>
 * </ul>
 *
 * <p>Every problem is an {@link OnnxImportException} whose message names the file, the node
 * (name and op type) and what is wrong.
 */
public final class OnnxImporter {
    private OnnxImporter() {}

    /** Largest result (in bytes) constant folding materializes; larger ones are left to run time. */
    static final long MAX_FOLDED_BYTES = 256L << 20;

    /** Metadata key prefix under which the exporter records non-default layouts of values. */
    static final String LAYOUT_KEY = "tessel.layout/";

    /**
     * Import settings.
     *
     * @param batchSize      the batch size (null: the model's own, 1 where symbolic): symbolic first dimensions take it,
     *                       inputs with a fixed first dimension of 1 are rebatched when the graph allows it
     * @param forceBatchSize replace the first dimension of every input of rank >= 1 by batchSize, unchecked
     * @param dims           sizes of other symbolic dimensions, by their ONNX name ("sequence" -> 128)
     * @param sequenceLength the size of symbolic dimensions named "seq..." that {@code dims} does not give (null: none)
     * @param foldConstants  evaluate nodes whose inputs are all constants at import (default true)
     * @param constantInputs graph inputs to bind to fixed values: they become constants, and fold
     * @param registry       where ops come from (null: {@link OpRegistry#global()})
     */
    public record Options(Integer batchSize, boolean forceBatchSize, Map<String, Long> dims, Integer sequenceLength, boolean foldConstants,
                          Map<String, Tensor> constantInputs, OpRegistry registry) {
        public Options {
            dims = Map.copyOf(dims);
            constantInputs = Map.copyOf(constantInputs);
            if (batchSize != null && batchSize < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
            if (sequenceLength != null && sequenceLength < 1) throw new IllegalArgumentException("sequence length must be at least 1, got " + sequenceLength);
            dims.forEach((k, v) -> {
                if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("dimension '" + k + "' must be from 0 to " + Integer.MAX_VALUE + ", got " + v);
            });
        }

        public static Options defaults() { return new Options(null, false, Map.of(), null, true, Map.of(), null); }

        /**
         * The batch size: symbolic first dimensions take it, and inputs whose first dimension is fixed at 1
         * are rebatched when the graph allows it (else the import is refused, naming the node that pins the batch).
         */
        public Options withBatchSize(int n) { return new Options(n, false, dims, sequenceLength, foldConstants, constantInputs, registry); }

        /** Batch size for the first dimension of every input, symbolic or not, without checking that the graph scales. */
        public Options withForcedBatchSize(int n) { return new Options(n, true, dims, sequenceLength, foldConstants, constantInputs, registry); }

        /** The size of the symbolic input dimension of this name (some input must have it). */
        public Options withDim(String name, long size) {
            Map<String, Long> d = new HashMap<>(dims);
            d.put(name, size);
            return new Options(batchSize, forceBatchSize, d, sequenceLength, foldConstants, constantInputs, registry);
        }

        /** The size of every symbolic input dimension whose name starts with "seq" (case aside) and that {@link #withDim} does not set; some input must have one. */
        public Options withSequenceLength(int n) { return new Options(batchSize, forceBatchSize, dims, n, foldConstants, constantInputs, registry); }

        /** Sizes of symbolic dimensions from text, as a command line gives them: {@code "sequence=128,past=0"}. */
        public Options withDims(String spec) {
            Options o = this;
            for (String part : spec.split(",")) {
                String t = part.strip();
                if (t.isEmpty()) continue;
                int eq = t.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("dimension '" + t + "' must be written name=size");
                try {
                    o = o.withDim(t.substring(0, eq).strip(), Long.parseLong(t.substring(eq + 1).strip()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("dimension '" + t + "': size must be an integer", e);
                }
            }
            return o;
        }

        public Options withFolding(boolean fold) { return new Options(batchSize, forceBatchSize, dims, sequenceLength, fold, constantInputs, registry); }

        public Options withConstantInput(String input, Tensor value) {
            Map<String, Tensor> c = new HashMap<>(constantInputs);
            c.put(input, value);
            return new Options(batchSize, forceBatchSize, dims, sequenceLength, foldConstants, c, registry);
        }

        public Options withConstantInputs(Map<String, Tensor> values) {
            Map<String, Tensor> c = new HashMap<>(constantInputs);
            c.putAll(values);
            return new Options(batchSize, forceBatchSize, dims, sequenceLength, foldConstants, c, registry);
        }

        public Options withRegistry(OpRegistry r) { return new Options(batchSize, forceBatchSize, dims, sequenceLength, foldConstants, constantInputs, r); }

        OpRegistry registryOrGlobal() { return registry == null ? OpRegistry.global() : registry; }
    }

    public static Graph importModel(Path file) { return importModel(file, Options.defaults()); }

    public static Graph importModel(Path file, Options options) {
        if (Files.isDirectory(file)) throw new OnnxImportException(Kind.INVALID_MODEL, null, file + " is a folder, not an ONNX file");
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, file + ": cannot read: " + (e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null ? fs.getReason() : e.getMessage()), e);
        }
        String name = file.getFileName().toString();
        ModelProto m = parse(bytes, name);
        try {
            m = ExternalData.inline(m, file.toAbsolutePath().getParent(), name);
        } catch (OnnxImportException e) {
            throw e.prefixed(name + ": ");
        }
        return importModel(m, name, options);
    }

    /**
     * The model in {@code file} with its external data (if any) read in: what {@link #importModel(Path, Options)}
     * imports, as one self-contained ModelProto (for keeping a model inside an engine file).
     */
    public static ModelProto readModel(Path file) {
        if (Files.isDirectory(file)) throw new OnnxImportException(Kind.INVALID_MODEL, null, file + " is a folder, not an ONNX file");
        String name = file.getFileName().toString();
        try {
            return ExternalData.inline(parse(Files.readAllBytes(file), name), file.toAbsolutePath().getParent(), name);
        } catch (IOException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, file + ": cannot read: " + (e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.getMessage()), e);
        } catch (OnnxImportException e) {
            throw e.prefixed(name + ": ");
        }
    }

    private static ModelProto parse(byte[] bytes, String sourceName) {
        try {
            return ModelProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, sourceName + ": not a valid ONNX model: " + e.getMessage(), e);
        }
    }

    public static Graph importModel(byte[] bytes, String sourceName) { return importModel(bytes, sourceName, Options.defaults()); }

    /** Imports a model held in memory; a model with external data must be imported from its file ({@link #importModel(Path, Options)}). */
    public static Graph importModel(byte[] bytes, String sourceName, Options options) {
        return importModel(parse(bytes, sourceName), sourceName, options);
    }

    public static Graph importModel(ModelProto model, String sourceName, Options options) {
        try {
            Integer n = options.batchSize();
            if (n != null && !options.forceBatchSize() && Rebatching.needed(model, options))
                return Rebatching.rebatch(model, n, batch -> new Session(sourceName, options.withForcedBatchSize(batch)).run(model));
            return new Session(sourceName, options).run(model);
        } catch (OnnxImportException e) {
            throw e.prefixed(sourceName + ": ");
        } catch (IrException e) {
            throw new OnnxImportException(Kind.OP_ERROR, null, sourceName + ": " + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            throw new OnnxImportException(Kind.INVALID_MODEL, null, sourceName + ": ran out of memory while importing (" + e.getMessage()
                    + "); the model's constants do not fit in this JVM's heap", e);
        } catch (RuntimeException | StackOverflowError e) {
            // an op's inference or reference code broke: say where rather than leak a stack trace
            throw new OnnxImportException(Kind.OP_ERROR, null, sourceName + ": internal error while importing: " + e, e);
        }
    }

    /** Normalizes ONNX's two spellings of the default domain. */
    static String domain(String d) { return d == null || d.equals("ai.onnx") ? "" : d; }

    /** "node 'conv1' (Conv)" or "node 'x' (MyOp, domain com.acme)". */
    static String describe(String name, String opType, String domain) {
        return "node '" + name + "' (" + opType + (domain.isEmpty() ? "" : ", domain " + domain) + ")";
    }

    /** One import: the model's state while its nodes are added in dependency order. */
    private static final class Session {
        private final String source;
        private final Options opt;
        private final OpRegistry registry;
        private final Map<String, Long> opsets = new HashMap<>();
        private final Set<String> reserved = new HashSet<>();
        private final Set<String> used = new HashSet<>();
        private Graph g;
        private int freshCounter;

        Session(String source, Options opt) {
            this.source = source;
            this.opt = opt;
            this.registry = opt.registryOrGlobal();
        }

        Graph run(ModelProto m) {
            if (!m.hasGraph()) throw invalid("the model has no graph");
            for (OperatorSetIdProto o : m.getOpsetImportList()) {
                if (opsets.put(domain(o.getDomain()), o.getVersion()) != null)
                    throw invalid("opset_import lists domain '" + o.getDomain() + "' twice");
                if (domain(o.getDomain()).isEmpty()) Opsets.checkDefaultDomain(o.getVersion());
            }
            GraphProto gp = m.getGraph();
            if (gp.getSparseInitializerCount() > 0)
                throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "sparse initializer", "graph has " + gp.getSparseInitializerCount()
                        + " sparse initializer(s) ('" + gp.getSparseInitializer(0).getValues().getName() + "'...); Tessel needs dense weights");
            g = new Graph(gp.getName().isEmpty() ? stripSuffix(source) : gp.getName());
            collectNames(gp);

            Map<String, TensorProto> inits = new LinkedHashMap<>();
            for (TensorProto t : gp.getInitializerList()) {
                if (t.getName().isEmpty()) throw invalid("an initializer has no name");
                if (inits.put(t.getName(), t) != null) throw invalid("initializer '" + t.getName() + "' is defined twice");
            }
            checkNamedDims(gp, inits.keySet());
            Set<String> bound = new HashSet<>();
            for (ValueInfoProto vi : gp.getInputList()) {
                String name = vi.getName();
                if (name.isEmpty()) throw invalid("a graph input has no name");
                if (g.value(name) != null) throw invalid("graph input '" + name + "' is declared twice");
                Tensor fixed = opt.constantInputs().get(name);
                if (fixed != null) {
                    checkBinding(vi, fixed);
                    g.addConstantExact(name, fixed, fixed.type());
                    bound.add(name);
                } else if (inits.containsKey(name)) {
                    addInitializer(inits.get(name));
                } else {
                    g.addInput(name, inputType(vi));
                }
            }
            for (String k : opt.constantInputs().keySet())
                if (!bound.contains(k)) throw invalid("Options bind input '" + k + "', but the graph has no input of that name");
            for (TensorProto t : inits.values()) if (g.value(t.getName()) == null) addInitializer(t);

            for (NodeProto np : topologicalOrder(gp)) importNode(np);

            for (ValueInfoProto vi : gp.getOutputList()) {
                Value v = g.value(vi.getName());
                if (v == null) throw invalid("graph output '" + vi.getName() + "' is not produced by any node, input or initializer");
                checkDeclaredType(vi, v);
                g.addOutput(v);
            }
            if (gp.getOutputCount() == 0) throw invalid("the graph has no outputs");
            g.removeUnusedConstants();
            applyLayouts(m);
            try {
                Verifier.verify(g);
            } catch (IrException e) {
                throw new OnnxImportException(Kind.INVALID_MODEL, null, "the imported graph does not verify: " + e.getMessage(), e);
            }
            return g;
        }

        private void collectNames(GraphProto gp) {
            for (ValueInfoProto v : gp.getInputList()) reserved.add(v.getName());
            for (TensorProto t : gp.getInitializerList()) reserved.add(t.getName());
            for (NodeProto n : gp.getNodeList()) reserved.addAll(n.getOutputList());
            for (NodeProto n : gp.getNodeList()) used.addAll(n.getInputList());
            for (ValueInfoProto v : gp.getOutputList()) used.add(v.getName());
        }

        private void addInitializer(TensorProto t) {
            Tensor v = OnnxTensors.fromProto(t, "initializer '" + t.getName() + "'");
            g.addConstantExact(t.getName(), v, v.type());
        }

        private void checkBinding(ValueInfoProto vi, Tensor fixed) {
            if (!vi.getType().hasTensorType()) return;
            TypeProto.Tensor tt = vi.getType().getTensorType();
            if (tt.getElemType() != 0 && tt.getElemType() != fixed.dtype().onnxCode())
                throw invalid("graph input '" + vi.getName() + "' is " + DType.onnxName(tt.getElemType()) + ", the value bound to it is " + fixed.dtype().text());
            if (tt.hasShape()) {
                List<TensorShapeProto.Dimension> ds = tt.getShape().getDimList();
                boolean ok = ds.size() == fixed.rank();
                for (int i = 0; ok && i < ds.size(); i++) if (ds.get(i).hasDimValue() && ds.get(i).getDimValue() != fixed.shape().dim(i)) ok = false;
                if (!ok) throw invalid("graph input '" + vi.getName() + "' has shape " + shapeText(ds) + ", the value bound to it has " + fixed.shape());
            }
        }

        /** The symbolic dimension names of the inputs that are not initializers or bound to values, in order. */
        private java.util.SequencedSet<String> symbolicDims(GraphProto gp, Set<String> initializers) {
            java.util.SequencedSet<String> names = new java.util.LinkedHashSet<>();
            for (ValueInfoProto vi : gp.getInputList()) {
                if (initializers.contains(vi.getName()) || opt.constantInputs().containsKey(vi.getName()) || !vi.getType().hasTensorType()) continue;
                for (TensorShapeProto.Dimension d : vi.getType().getTensorType().getShape().getDimList())
                    if (!d.hasDimValue() && d.hasDimParam() && !d.getDimParam().isEmpty()) names.add(d.getDimParam());
            }
            return names;
        }

        /** A size given for a dimension no input has, or a sequence length where no input has a "seq..." dimension, is refused listing the ones there are. */
        private void checkNamedDims(GraphProto gp, Set<String> initializers) {
            java.util.SequencedSet<String> names = symbolicDims(gp, initializers);
            String known = names.isEmpty() ? "the inputs have no symbolic dimensions" : "the inputs' symbolic dimensions are " + String.join(", ", names);
            for (String k : new java.util.TreeSet<>(opt.dims().keySet()))
                if (!names.contains(k)) throw invalid("a size was given for dimension '" + k + "', but no graph input has a symbolic dimension of that name; " + known);
            if (opt.sequenceLength() != null && names.stream().noneMatch(this::isSequence))
                throw invalid("a sequence length was given, but no graph input has a symbolic dimension named 'seq...'; " + known);
        }

        private boolean isSequence(String dimParam) {
            return !opt.dims().containsKey(dimParam) && dimParam.toLowerCase(java.util.Locale.ROOT).startsWith("seq");
        }

        /**
         * A graph output's declared type must be the inferred one: its element type, rank and fixed dimensions
         * (symbolic ones are free, and so is the first when the batch size was forced).
         */
        private void checkDeclaredType(ValueInfoProto vi, Value v) {
            if (!vi.hasType() || !vi.getType().hasTensorType()) return;
            TypeProto.Tensor tt = vi.getType().getTensorType();
            TensorType inferred = v.type();
            String what = "graph output '" + vi.getName() + "'";
            if (tt.getElemType() != 0 && tt.getElemType() != inferred.dtype().onnxCode())
                throw invalid(what + " is declared " + DType.onnxName(tt.getElemType()) + ", but the graph computes " + inferred.dtype().text() + " (" + inferred + ")");
            if (!tt.hasShape()) return;
            List<TensorShapeProto.Dimension> ds = tt.getShape().getDimList();
            boolean ok = ds.size() == inferred.rank();
            for (int i = 0; ok && i < ds.size(); i++)
                if (ds.get(i).hasDimValue() && ds.get(i).getDimValue() != inferred.shape().dim(i) && !(i == 0 && opt.forceBatchSize())) ok = false;
            if (!ok) throw invalid(what + " is declared with shape " + shapeText(ds) + ", but the graph computes " + inferred);
        }

        private TensorType inputType(ValueInfoProto vi) {
            String what = "graph input '" + vi.getName() + "'";
            if (!vi.hasType()) throw invalid(what + " has no type");
            TypeProto tp = vi.getType();
            switch (tp.getValueCase()) {
                case TENSOR_TYPE -> { }
                case SEQUENCE_TYPE, MAP_TYPE, OPTIONAL_TYPE, SPARSE_TENSOR_TYPE -> throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE,
                        tp.getValueCase().name().toLowerCase(java.util.Locale.ROOT).replace("_type", ""),
                        what + " is a " + tp.getValueCase().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + "; Tessel handles dense tensors only");
                default -> throw invalid(what + " has no type");
            }
            TypeProto.Tensor tt = tp.getTensorType();
            DType dt = OnnxTensors.dtype(tt.getElemType(), what);
            if (!tt.hasShape()) throw invalid(what + " has no shape; Tessel needs static shapes");
            List<TensorShapeProto.Dimension> ds = tt.getShape().getDimList();
            List<Long> dims = new ArrayList<>();
            for (int i = 0; i < ds.size(); i++) {
                TensorShapeProto.Dimension d = ds.get(i);
                if (i == 0 && opt.forceBatchSize() && opt.batchSize() != null) { dims.add((long) opt.batchSize()); continue; }
                if (d.hasDimValue()) { dims.add(d.getDimValue()); continue; }
                String param = d.hasDimParam() ? d.getDimParam() : "";
                Long named = param.isEmpty() ? null : opt.dims().get(param);
                if (named != null) dims.add(named);
                else if (i == 0) dims.add(opt.batchSize() == null ? 1L : opt.batchSize());
                else if (opt.sequenceLength() != null && isSequence(param)) dims.add((long) opt.sequenceLength());
                else throw new OnnxImportException(Kind.INVALID_MODEL, null, what + " has shape " + shapeText(ds) + ": dimension " + i + " is symbolic"
                            + (param.isEmpty() ? " and unnamed" : " ('" + param + "'); give its size with --dim " + param + "=N"));
            }
            return TensorType.of(dt, OnnxTensors.shape(dims, what));
        }

        private static String shapeText(List<TensorShapeProto.Dimension> ds) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < ds.size(); i++) {
                if (i > 0) sb.append(',');
                TensorShapeProto.Dimension d = ds.get(i);
                sb.append(d.hasDimValue() ? String.valueOf(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
            }
            return sb.append(']').toString();
        }

        /**
         * The nodes in an order where every input is defined first. ONNX requires files to be
         * sorted, but not every writer obeys; sorting here also finds undefined values and cycles.
         */
        private List<NodeProto> topologicalOrder(GraphProto gp) {
            List<NodeProto> nodes = gp.getNodeList();
            int n = nodes.size();
            Map<String, Integer> producer = new HashMap<>();
            for (int i = 0; i < n; i++) {
                for (String o : nodes.get(i).getOutputList()) {
                    if (o.isEmpty()) continue;
                    Integer prev = producer.put(o, i);
                    if (prev != null)
                        throw invalid("value '" + o + "' is defined twice: by " + describeNode(nodes.get(prev)) + " and by " + describeNode(nodes.get(i)));
                    if (g.value(o) != null)
                        throw invalid(describeNode(nodes.get(i)) + ": output '" + o + "' is already defined as a graph input or initializer");
                }
            }
            int[] pending = new int[n];
            List<List<Integer>> users = new ArrayList<>(n);
            for (int i = 0; i < n; i++) users.add(new ArrayList<>());
            for (int i = 0; i < n; i++) {
                for (String in : nodes.get(i).getInputList()) {
                    if (in.isEmpty()) continue;
                    Integer p = producer.get(in);
                    if (p != null) { pending[i]++; users.get(p).add(i); }
                    else if (g.value(in) == null)
                        throw invalid(describeNode(nodes.get(i)) + ": input '" + in + "' is not defined (not a graph input, initializer or output of any node)");
                }
            }
            // a priority queue keeps the file's order wherever it is already valid
            PriorityQueue<Integer> ready = new PriorityQueue<>();
            for (int i = 0; i < n; i++) if (pending[i] == 0) ready.add(i);
            List<NodeProto> order = new ArrayList<>(n);
            while (!ready.isEmpty()) {
                int i = ready.poll();
                order.add(nodes.get(i));
                for (int u : users.get(i)) if (--pending[u] == 0) ready.add(u);
            }
            if (order.size() < n) throw invalid("the graph has a cycle: " + findCycle(nodes, producer, pending));
            return order;
        }

        private static String findCycle(List<NodeProto> nodes, Map<String, Integer> producer, int[] pending) {
            int start = 0;
            while (pending[start] == 0) start++;
            // walk backwards through still-pending producers until a node repeats
            List<Integer> path = new ArrayList<>();
            Map<Integer, Integer> seenAt = new HashMap<>();
            int cur = start;
            while (!seenAt.containsKey(cur)) {
                seenAt.put(cur, path.size());
                path.add(cur);
                int next = -1;
                for (String in : nodes.get(cur).getInputList()) {
                    Integer p = producer.get(in);
                    if (p != null && pending[p] > 0) { next = p; break; }
                }
                if (next < 0) break;
                cur = next;
            }
            List<Integer> cycle = new ArrayList<>(path.subList(seenAt.getOrDefault(cur, 0), path.size()));
            java.util.Collections.reverse(cycle);
            StringBuilder sb = new StringBuilder();
            for (int i : cycle) sb.append(describeNode(nodes.get(i))).append(" -> ");
            return sb.append(describeNode(nodes.get(cycle.getFirst()))).toString();
        }

        private static String describeNode(NodeProto n) {
            return OnnxImporter.describe(n.getName().isEmpty() ? "(unnamed)" : n.getName(), n.getOpType(), domain(n.getDomain()));
        }

        private void importNode(NodeProto np) {
            String dom = domain(np.getDomain());
            String opType = np.getOpType();
            if (opType.isEmpty()) throw invalid(describeNode(np) + ": has no op type");
            String name = np.getName().isEmpty() ? g.uniqueNodeName(opType) : np.getName();
            String where = describe(name, opType, dom);
            Map<String, AttrValue> attrs = attributes(np, where);
            if (dom.isEmpty() && opType.equals("Constant")) { constantNode(np, attrs, where); return; }
            Long opset = opsets.get(dom);
            if (opset == null && dom.isEmpty()) throw invalid("the model has no opset_import entry for the default ONNX domain");

            List<String> ins = new ArrayList<>();
            for (String s : np.getInputList()) ins.add(s.isEmpty() ? null : s);
            while (!ins.isEmpty() && ins.getLast() == null) ins.removeLast();
            List<String> outs = new ArrayList<>(np.getOutputList());
            while (!outs.isEmpty() && outs.getLast().isEmpty()) outs.removeLast();
            if (outs.isEmpty()) throw invalid(where + ": has no outputs");
            for (int i = 0; i < outs.size(); i++) if (outs.get(i).isEmpty()) outs.set(i, freshValue(name + "_unused" + i));

            if (dom.isEmpty()) Opsets.checkNode(opType, opset, where);
            PendingNode pn = new PendingNode(name, opType, dom, ins, attrs, outs);
            List<PendingNode> parts = dom.isEmpty() ? LegacyForms.rewrite(pn, opset, rewriteContext(where)) : List.of(pn);
            for (PendingNode p : parts) addNode(p, where, opType);
        }

        private LegacyForms.Context rewriteContext(String where) {
            return new LegacyForms.Context() {
                @Override public TensorType typeOf(String value) { return g.value(value).type(); }
                @Override public String constant(String base, Tensor t) {
                    String n = freshValue(base);
                    g.addConstantExact(n, t, t.type());
                    return n;
                }
                @Override public String freshValue(String base) { return Session.this.freshValue(base); }
                @Override public boolean isUsed(String value) { return used.contains(value); }
                @Override public String where() { return where; }
            };
        }

        private String freshValue(String base) {
            String n = base;
            while (reserved.contains(n) || g.value(n) != null) n = base + "_" + (++freshCounter);
            reserved.add(n);
            return n;
        }

        /** ONNX ops whose output shape depends on their input's values (torchvision's NMS exports through NonZero). */
        private static final java.util.Set<String> DATA_DEPENDENT_SHAPES = java.util.Set.of("NonZero", "NonMaxSuppression", "Unique", "Compress");

        private void addNode(PendingNode p, String where, String originalOp) {
            // shapes are static, so Shape and Size fold whatever their input, even without the ops registered
            if (opt.foldConstants() && p.domain().isEmpty() && (p.opType().equals("Shape") || p.opType().equals("Size"))
                    && p.inputs().size() == 1 && p.inputs().getFirst() != null) {
                foldShape(p, g.value(p.inputs().getFirst()).type(), where);
                return;
            }
            OpSchema op = registry.find(p.domain(), p.opType()).orElse(null);
            // TensorRT finds plugins by name whatever the domain, and exporters write EfficientNMS_TRT with or without "TRT"
            if (op == null && p.domain().isEmpty() && p.opType().equals(EfficientNmsOp.NAME)) op = registry.find(EfficientNmsOp.DOMAIN, p.opType()).orElse(null);
            if (op == null && Opsets.onnxDomainWithoutOps(p.domain()) != null)
                throw new OnnxImportException(Kind.UNKNOWN_OP, p.domain() + "." + p.opType(), where + ": Tessel has no ops of domain " + p.domain() + ", "
                        + Opsets.onnxDomainWithoutOps(p.domain()) + "; a plugin can supply them through the OpProvider SPI");
            if (op == null && p.domain().isEmpty() && DATA_DEPENDENT_SHAPES.contains(p.opType()))
                throw new OnnxImportException(Kind.UNKNOWN_OP, p.opType(), where + ": unknown op; " + p.opType() + "'s output shape depends on its input's values, "
                        + "and Tessel's engines have static shapes: export the model with a fixed-shape form instead (a detector's NMS as TensorRT's "
                        + "EfficientNMS_TRT, which Tessel implements: count, boxes, scores and classes padded to max_output_boxes), or without this step "
                        + "(a detector without its NMS, which then runs on the host), or a plugin can supply a fixed-shape form through the OpProvider SPI "
                        + "(META-INF/services/org.tessel.api.OpProvider)");
            if (op == null) {
                String what = p.opType().equals(originalOp) ? where + ": unknown op"
                        : where + ": needs op " + p.opType() + " to express this opset's form, and no provider supplies it";
                throw new OnnxImportException(Kind.UNKNOWN_OP, p.domain().isEmpty() ? p.opType() : p.domain() + "." + p.opType(),
                        what + "; a plugin can supply it through the OpProvider SPI (META-INF/services/org.tessel.api.OpProvider)");
            }
            checkAttributes(op, p.attrs(), where);
            Attributes attrs = Attributes.of(p.attrs());
            List<Value> ins = new ArrayList<>(p.inputs().size());
            for (String s : p.inputs()) ins.add(s == null ? null : g.value(s));
            boolean allConstant = true;
            for (Value v : ins) if (v != null && !v.isConstant()) allConstant = false;

            List<TensorType> types = Graph.inferTypes(op, p.name(), ins, attrs, p.outputs().size());
            // Q/DQ nodes stay nodes even on constants (a model's int8 weights): they are the model's explicit quantization,
            // which `tessel build` reads (ExplicitQuantization); the passes' constant folding folds them where that is not wanted
            boolean qdq = p.domain().isEmpty() && (p.opType().equals("QuantizeLinear") || p.opType().equals("DequantizeLinear"));
            if (opt.foldConstants() && allConstant && !qdq && op.has(Trait.PURE) && !op.has(Trait.FUSED) && foldable(types)) {
                fold(op, p, ins, attrs, types, where);
                return;
            }
            g.insertNode(g.nodes().size(), op, p.name(), ins, attrs, types, p.outputs(), null);
        }

        /** Results too large to hold as constants (a ConstantOfShape of gigabytes) stay nodes, computed at run time. */
        private static boolean foldable(List<TensorType> types) {
            for (TensorType t : types) if (t.bytes() > MAX_FOLDED_BYTES) return false;
            return true;
        }

        private void checkAttributes(OpSchema op, Map<String, AttrValue> attrs, String where) {
            for (var e : attrs.entrySet()) {
                AttrSpec spec = null;
                for (AttrSpec s : op.attributes()) if (s.name().equals(e.getKey())) spec = s;
                if (spec == null)
                    throw new OnnxImportException(Kind.OP_ERROR, null, where + ": unknown attribute '" + e.getKey() + "' (" + op.qualifiedName()
                            + " has " + op.attributes().stream().map(AttrSpec::name).toList() + ")");
                AttrValue v = e.getValue();
                if (spec.kind() != v.kind() && !(spec.kind() == AttrValue.Kind.FLOAT && v.kind() == AttrValue.Kind.INT))
                    throw new OnnxImportException(Kind.OP_ERROR, null, where + ": attribute '" + e.getKey() + "' must be " + spec.kind() + ", found " + v.kind());
                // element-type codes an op would produce: refuse the ones Tessel has no type for by name
                if ((e.getKey().equals("to") || e.getKey().equals("dtype") || e.getKey().equals("output_dtype")) && v instanceof AttrValue.Int i && i.value() != 0)
                    OnnxTensors.dtype((int) i.value(), where + " attribute '" + e.getKey() + "'");
            }
            for (AttrSpec s : op.attributes())
                if (s.required() && !attrs.containsKey(s.name()))
                    throw new OnnxImportException(Kind.OP_ERROR, null, where + ": required attribute '" + s.name() + "' is missing");
        }

        private void foldShape(PendingNode p, TensorType in, String where) {
            for (String k : p.attrs().keySet())
                if (!(p.opType().equals("Shape") && (k.equals("start") || k.equals("end")) && p.attrs().get(k) instanceof AttrValue.Int))
                    throw new OnnxImportException(Kind.OP_ERROR, null, where + ": unexpected attribute '" + k + "'" + (p.opType().equals("Shape") ? " (Shape has INT start and end)" : ""));
            Attributes attrs = Attributes.of(p.attrs());
            Tensor t;
            if (p.opType().equals("Size")) {
                t = Tensor.ofLongs(DType.I64, Shape.scalar(), in.numElements());
            } else {
                int r = in.rank();
                long start = clampAxis(attrs.getInt("start", 0), r), end = clampAxis(attrs.getInt("end", r), r);
                long[] dims = in.shape().longDims();
                int len = (int) Math.max(0, end - start);
                long[] out = new long[len];
                System.arraycopy(dims, (int) start, out, 0, len);
                t = Tensor.ofLongs(DType.I64, Shape.of(len), out);
            }
            if (p.outputs().size() != 1) throw new OnnxImportException(Kind.OP_ERROR, null, where + ": has 1 output, declares " + p.outputs().size());
            g.addConstantExact(p.outputs().getFirst(), t, t.type());
        }

        private static long clampAxis(long a, int r) {
            if (a < 0) a += r;
            return Math.max(0, Math.min(r, a));
        }

        private void fold(OpSchema op, PendingNode p, List<Value> ins, Attributes attrs, List<TensorType> types, String where) {
            List<Tensor> values = new ArrayList<>(ins.size());
            for (Value v : ins) values.add(v == null ? null : v.constantValue());
            List<Tensor> outs;
            try {
                outs = op.evaluate(new EvalContext(p.name(), values, attrs, types));
            } catch (RuntimeException e) {
                throw new OnnxImportException(Kind.OP_ERROR, null, where + ": constant folding failed: " + e.getMessage(), e);
            }
            if (outs.size() != types.size())
                throw new OnnxImportException(Kind.OP_ERROR, null, where + ": constant folding: the reference implementation returned " + outs.size() + " outputs for " + types.size());
            for (int i = 0; i < outs.size(); i++) {
                Tensor t = outs.get(i);
                if (t == null || !t.type().sameLogicalType(types.get(i)))
                    throw new OnnxImportException(Kind.OP_ERROR, null, where + ": constant folding: the reference implementation produced "
                            + (t == null ? "nothing" : t.type()) + " for output '" + p.outputs().get(i) + "' typed " + types.get(i));
                g.addConstantExact(p.outputs().get(i), t, types.get(i));
            }
        }

        private void constantNode(NodeProto np, Map<String, AttrValue> attrs, String where) {
            if (np.getOutputCount() != 1 || np.getOutput(0).isEmpty()) throw invalid(where + ": must have exactly one output");
            if (attrs.size() != 1) throw invalid(where + ": needs exactly one value attribute, has " + attrs.keySet());
            var e = attrs.entrySet().iterator().next();
            AttrValue v = e.getValue();
            Tensor t = switch (e.getKey()) {
                case "value" -> v instanceof AttrValue.TensorValue tv ? tv.value() : null;
                case "value_float" -> v instanceof AttrValue.Float f ? Tensor.scalar(DType.F32, f.value()) : null;
                case "value_floats" -> v instanceof AttrValue.Floats f ? Tensor.ofFloats(Shape.of(f.values().length), f.values()) : null;
                case "value_int" -> v instanceof AttrValue.Int i ? Tensor.ofLongs(DType.I64, Shape.scalar(), i.value()) : null;
                case "value_ints" -> v instanceof AttrValue.Ints i ? Tensor.ofLongs(DType.I64, Shape.of(i.values().length), i.values()) : null;
                case "value_string", "value_strings" -> throw new OnnxImportException(Kind.UNSUPPORTED_DTYPE, "STRING", where + ": element type STRING is not supported");
                default -> throw invalid(where + ": unknown attribute '" + e.getKey() + "'");
            };
            if (t == null) throw new OnnxImportException(Kind.OP_ERROR, null, where + ": attribute '" + e.getKey() + "' has the wrong type " + v.kind());
            g.addConstantExact(np.getOutput(0), t, t.type());
        }

        private Map<String, AttrValue> attributes(NodeProto np, String where) {
            Map<String, AttrValue> out = new LinkedHashMap<>();
            for (AttributeProto a : np.getAttributeList()) {
                if (a.getName().isEmpty()) throw invalid(where + ": an attribute has no name");
                if (out.put(a.getName(), attribute(a, where)) != null) throw invalid(where + ": attribute '" + a.getName() + "' is given twice");
            }
            return out;
        }

        private AttrValue attribute(AttributeProto a, String where) {
            String what = where + ": attribute '" + a.getName() + "'";
            if (!a.getRefAttrName().isEmpty())
                throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "attribute reference", what + " refers to function attribute '" + a.getRefAttrName() + "' outside a function");
            AttributeProto.AttributeType type = a.hasType() ? a.getType() : AttributeProto.AttributeType.UNDEFINED;
            if (type == AttributeProto.AttributeType.UNDEFINED) type = guessType(a, what);
            return switch (type) {
                case FLOAT -> AttrValue.of(a.getF());
                case INT -> AttrValue.of(a.getI());
                case STRING -> AttrValue.of(a.getS().toStringUtf8());
                case TENSOR -> AttrValue.of(OnnxTensors.fromProto(a.getT(), what));
                case FLOATS -> {
                    float[] f = new float[a.getFloatsCount()];
                    for (int i = 0; i < f.length; i++) f[i] = a.getFloats(i);
                    yield AttrValue.of(f);
                }
                case INTS -> {
                    long[] l = new long[a.getIntsCount()];
                    for (int i = 0; i < l.length; i++) l[i] = a.getInts(i);
                    yield AttrValue.of(l);
                }
                case STRINGS -> new AttrValue.Strs(a.getStringsList().stream().map(s -> s.toStringUtf8()).toList());
                case GRAPH, GRAPHS -> throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, "subgraph",
                        what + " is a subgraph; control flow (If, Loop, Scan) is not supported");
                default -> throw new OnnxImportException(Kind.UNSUPPORTED_FEATURE, type.name(), what + " has type " + type + ", which Tessel does not support");
            };
        }

        private static AttributeProto.AttributeType guessType(AttributeProto a, String what) {
            // attributes written before IR version 2 carry no type; the set field says which it is
            if (a.hasF()) return AttributeProto.AttributeType.FLOAT;
            if (a.hasI()) return AttributeProto.AttributeType.INT;
            if (a.hasS()) return AttributeProto.AttributeType.STRING;
            if (a.hasT()) return AttributeProto.AttributeType.TENSOR;
            if (a.hasG()) return AttributeProto.AttributeType.GRAPH;
            if (a.getFloatsCount() > 0) return AttributeProto.AttributeType.FLOATS;
            if (a.getIntsCount() > 0) return AttributeProto.AttributeType.INTS;
            if (a.getStringsCount() > 0) return AttributeProto.AttributeType.STRINGS;
            if (a.getGraphsCount() > 0) return AttributeProto.AttributeType.GRAPHS;
            throw new OnnxImportException(Kind.INVALID_MODEL, null, what + " has no type and no value");
        }

        private void applyLayouts(ModelProto m) {
            for (StringStringEntryProto e : m.getMetadataPropsList()) {
                if (!e.getKey().startsWith(LAYOUT_KEY)) continue;
                Value v = g.value(e.getKey().substring(LAYOUT_KEY.length()));
                Layout l = Layout.fromText(e.getValue()).orElse(null);
                if (v != null && l != null) v.setType(v.type().withLayout(l));
            }
        }

        private static String stripSuffix(String s) {
            return s.endsWith(".onnx") ? s.substring(0, s.length() - 5) : s;
        }

        private static OnnxImportException invalid(String msg) { return new OnnxImportException(Kind.INVALID_MODEL, null, msg); }
    }
}
