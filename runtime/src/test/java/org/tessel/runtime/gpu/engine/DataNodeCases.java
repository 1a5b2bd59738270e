package org.tessel.runtime.gpu.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.onnx.OnnxTensors;

/**
 * The ONNX node cases (../shared/onnx-node, found through {@code tessel.shared}) of the ops whose GPU tactics are
 * {@link WindowLayers}, {@link AxisLayers}, {@link IndexLayers} and {@code tessel.reduce}: each case the importer accepts, imported as
 * {@code tessel ops --gpu} probes it (as is, else with the inputs after the first bound to their test data), and,
 * where folding leaves no such node (Shape, Constant, ConstantOfShape), imported unfolded, the node's own inputs bound.
 */
final class DataNodeCases {
    private DataNodeCases() {}

    static final Set<String> OPS = Set.of("Slice", "Pad", "Expand", "Tile", "GatherElements", "GatherND", "ConstantOfShape", "Shape", "Constant",
            "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
            "ArgMax", "ArgMin", "Hardmax", "LogSoftmax",
            "Range", "Trilu", "CumSum", "CumProd", "OneHot", "TopK", "ScatterElements", "ScatterND");

    /** The index ops of the suite (IndexLayers). */
    static final Set<String> INDEX_OPS = Set.of("Range", "Trilu", "CumSum", "CumProd", "OneHot", "TopK", "ScatterElements", "ScatterND");

    private static final Pattern NAMES = Pattern.compile("test_(slice|constant_pad|edge_pad|reflect_pad|wrap_pad|expand|tile|gather_elements|gathernd|reduce_[a-z0-9]+"
            + "|argmax|argmin|hardmax|logsoftmax|constantofshape|shape|constant"
            + "|range|tril|triu|cumsum|cumprod|onehot|top_k|scatter_elements|scatternd)(_.*)?");

    /** One imported case: its graph and the values of the graph's remaining inputs (test_data_set_0). */
    record Case(String name, Graph graph, Map<String, Tensor> inputs) {
        List<Node> nodes() { return graph.nodes().stream().filter(n -> OPS.contains(n.opName())).toList(); }
    }

    static Path folder() { return Path.of(System.getProperty("tessel.shared", "/work/shared")).resolve("onnx-node"); }

    /** The cases, or an empty list when the folder is absent (callers skip, saying so). */
    static List<Case> load() throws IOException {
        Path root = folder();
        if (!Files.isDirectory(root)) return List.of();
        List<Path> dirs;
        try (Stream<Path> s = Files.list(root)) {
            dirs = s.filter(p -> NAMES.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList();
        }
        List<Case> out = new ArrayList<>();
        for (Path d : dirs) {
            Case c = load(d);
            if (c != null) out.add(c);
        }
        return out;
    }

    private static Case load(Path dir) throws IOException {
        var m = org.tessel.ir.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("model.onnx")));
        List<String> names = new ArrayList<>();
        for (var vi : m.getGraph().getInputList()) names.add(vi.getName());
        Map<String, Tensor> data = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            Path f = dir.resolve("test_data_set_0").resolve("input_" + i + ".pb");
            if (!Files.isRegularFile(f)) continue;
            try {
                data.put(names.get(i), OnnxTensors.readTensor(f));
            } catch (RuntimeException unsupported) {
                return null; // test data of an element type Tessel does not hold (TopK's uint64 case): the importer refuses it too
            }
        }
        OnnxImporter.Options plain = OnnxImporter.Options.defaults(), bound = plain;
        for (int i = 1; i < names.size(); i++) if (data.containsKey(names.get(i))) bound = bound.withConstantInput(names.get(i), data.get(names.get(i)));
        OnnxImporter.Options unfolded = plain.withFolding(false), unfoldedBound = unfolded;
        for (String n : names) if (data.containsKey(n)) unfoldedBound = unfoldedBound.withConstantInput(n, data.get(n));
        for (OnnxImporter.Options o : List.of(plain, bound, unfolded, unfoldedBound)) {
            Graph g;
            try {
                g = OnnxImporter.importModel(dir.resolve("model.onnx"), o);
            } catch (RuntimeException refused) {
                continue;
            }
            Case c = new Case(dir.getFileName().toString(), g, inputsOf(g, data));
            if (!c.nodes().isEmpty()) return c;
        }
        return null;
    }

    /**
     * Cases the node tests lack, built here with seeded random data: shapes large enough for the block-per-row kernels
     * (reductions with R >= 64 and the last axis, LogSoftmax along a middle axis), every reduction kind over a
     * non-contiguous axis set, NaN and ties for ArgMax/ArgMin (select_last_index) and Hardmax, Pad with crops in every
     * mode, Slice with negative steps, Expand of a lower rank.
     */
    static List<Case> synthetic() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(12);
        List<Case> out = new ArrayList<>();
        for (String op : List.of("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
                "ReduceLogSumExp")) {
            boolean positive = op.equals("ReduceLogSum") || op.equals("ReduceProd");
            out.add(single("rows_" + op, op, org.tessel.api.Attributes.builder().put("keepdims", 0L).build(), r, positive, new int[] {3, 300}, 1L));
            out.add(single("strided_" + op, op, org.tessel.api.Attributes.empty(), r, positive, new int[] {2, 5, 3, 4}, 0L, 2L));
        }
        for (String op : List.of("ReduceL2", "ReduceSumSquare", "ReduceLogSum")) // no axes with noop_with_empty_axes: the identity, not a one-element reduction
            out.add(single("noop_" + op, op, org.tessel.api.Attributes.builder().put("noop_with_empty_axes", 1L).build(), r, op.equals("ReduceLogSum"), new int[] {2, 3}));
        // integer data: the exact kernels (ties for ArgMin / ArgMax), i8 data, an empty i32 minimum (the type's highest value)
        out.add(integers("int_sum", "ReduceSum", org.tessel.api.DType.I32, org.tessel.api.Attributes.empty(), r, new int[] {3, 4, 5}, 1L));
        out.add(integers("int_max_strided", "ReduceMax", org.tessel.api.DType.I64, org.tessel.api.Attributes.builder().put("keepdims", 0L).build(), r, new int[] {3, 4, 5}, 0L, 2L));
        out.add(integers("int_prod", "ReduceProd", org.tessel.api.DType.I64, org.tessel.api.Attributes.empty(), r, new int[] {2, 3}, 1L));
        out.add(integers("int_max_i8", "ReduceMax", org.tessel.api.DType.I8, org.tessel.api.Attributes.empty(), r, new int[] {2, 6}, 1L));
        out.add(integers("int_l1", "ReduceL1", org.tessel.api.DType.I32, org.tessel.api.Attributes.empty(), r, new int[] {4, 70}, 1L));
        out.add(integers("int_sumsquare_all", "ReduceSumSquare", org.tessel.api.DType.I64, org.tessel.api.Attributes.empty(), r, new int[] {3, 5}));
        out.add(integers("int_min_empty", "ReduceMin", org.tessel.api.DType.I32, org.tessel.api.Attributes.empty(), r, new int[] {2, 0}, 1L));
        out.add(integers("int_argmin_last", "ArgMin", org.tessel.api.DType.I64, org.tessel.api.Attributes.builder().put("axis", 1L).put("select_last_index", 1L).build(), r,
                new int[] {3, 9, 2}));
        out.add(integers("bool_max_strided", "ReduceMax", org.tessel.api.DType.BOOL, org.tessel.api.Attributes.empty(), r, new int[] {2, 3, 4}, 0L, 2L));
        out.add(integers("bool_min", "ReduceMin", org.tessel.api.DType.BOOL, org.tessel.api.Attributes.builder().put("keepdims", 0L).build(), r, new int[] {3, 4}, 1L));
        out.add(integers("int_argmax", "ArgMax", org.tessel.api.DType.I32, org.tessel.api.Attributes.builder().put("axis", -1L).build(), r, new int[] {4, 9}));
        out.add(single("logsoftmax_mid", "LogSoftmax", org.tessel.api.Attributes.builder().put("axis", 1L).build(), r, false, new int[] {2, 70, 5}));
        out.add(single("logsoftmax_rows", "LogSoftmax", org.tessel.api.Attributes.empty(), r, false, new int[] {4, 1000}));
        out.add(single("hardmax_mid", "Hardmax", org.tessel.api.Attributes.builder().put("axis", 1L).build(), r, false, new int[] {3, 6, 4}));
        for (String op : List.of("ArgMax", "ArgMin"))
            for (long last : new long[] {0, 1})
                out.add(single(op + "_last" + last, op, org.tessel.api.Attributes.builder().put("axis", 1L).put("keepdims", 0L).put("select_last_index", last).build(),
                        r, false, new int[] {3, 7, 5}));
        for (String mode : List.of("constant", "reflect", "edge", "wrap")) {
            org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("pad_" + mode);
            Value x = b.input("x", org.tessel.api.DType.F32, 2, 5, 6);
            List<Value> ins = new ArrayList<>(List.of(x, b.longs("pads", 0, 3, -2, 0, -1, 4)));
            if (mode.equals("constant")) ins.add(b.constant("cv", org.tessel.api.Shape.scalar(), -1.5f));
            b.output(b.name("pad").op("Pad", org.tessel.api.Attributes.builder().put("mode", mode).build(), ins.toArray(Value[]::new)));
            out.add(new Case("synthetic_pad_" + mode, b.build(), Map.of("x", withTies(r, org.tessel.api.Shape.of(2, 5, 6), false))));
        }
        // bool data moves as bytes: Pad with a true constant, Expand, a strided Slice, and a bool Constant node
        org.tessel.ir.NetworkBuilder bb = new org.tessel.ir.NetworkBuilder("bool_moves");
        Value flags = bb.input("flags", org.tessel.api.DType.BOOL, 3, 4);
        Tensor yes = Tensor.ofLongs(org.tessel.api.DType.BOOL, org.tessel.api.Shape.scalar(), 1);
        bb.output(bb.name("pad_true").op("Pad", org.tessel.api.Attributes.empty(), flags, bb.longs("bp", 1, 0, 0, 2), bb.constant("yes", yes)));
        bb.output(bb.name("expand_bool").op("Expand", org.tessel.api.Attributes.empty(), flags, bb.longs("bto", 2, 3, 4)));
        bb.output(bb.name("slice_bool").op("Slice", org.tessel.api.Attributes.empty(), flags, bb.longs("bst", 3), bb.longs("ben", -100), bb.longs("bax", 1), bb.longs("bsp", -2)));
        bb.output(bb.name("const_bool").op("Constant", org.tessel.api.Attributes.builder().put("value",
                Tensor.ofLongs(org.tessel.api.DType.BOOL, org.tessel.api.Shape.of(3), 1, 0, 1)).build()));
        long[] fv = new long[12];
        for (int i = 0; i < fv.length; i++) fv[i] = r.nextInt(2);
        out.add(new Case("synthetic_bool_moves", bb.build(), Map.of("flags", Tensor.ofLongs(org.tessel.api.DType.BOOL, org.tessel.api.Shape.of(3, 4), fv))));
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("slice_back");
        Value x = b.input("x", org.tessel.api.DType.F32, 4, 9, 5);
        b.output(b.name("slice").op("Slice", org.tessel.api.Attributes.empty(), x, b.longs("st", 8, -1), b.longs("en", 0, -100), b.longs("ax", 1, 2), b.longs("sp", -3, -2)));
        Value e = b.input("e", org.tessel.api.DType.F32, 5, 1);
        b.output(b.name("expand").op("Expand", org.tessel.api.Attributes.empty(), e, b.longs("to", 2, 1, 5, 3)));
        out.add(new Case("synthetic_slice_expand", b.build(), Map.of("x", withTies(r, org.tessel.api.Shape.of(4, 9, 5), false),
                "e", withTies(r, org.tessel.api.Shape.of(5, 1), false))));
        out.addAll(indexCases(r));
        out.addAll(tileGatherNdCases(r));
        return out;
    }

    /**
     * Tile and GatherND cases the node tests lack: Tile of f32 (rank 3 and 5), i64 and bool data, repeats of 1 between
     * repeated axes; GatherND of f32 and i32 data with batch_dims 0, 1 and 2, constant and computed indices (i64 and
     * i32, negative ones among them), tuples of every length from 1 to the data's rank, a slice of several thousand
     * elements (the grid-stride loops).
     */
    static List<Case> tileGatherNdCases(java.util.SplittableRandom r) {
        org.tessel.api.DType f32 = org.tessel.api.DType.F32, i64 = org.tessel.api.DType.I64, i32 = org.tessel.api.DType.I32;
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("tiles");
        Value x = b.input("x", f32, 2, 3, 4);
        b.output(b.name("tile_f32").op("Tile", org.tessel.api.Attributes.empty(), x, b.longs("reps", 2, 1, 3)));
        Value x5 = b.input("x5", f32, 1, 2, 1, 3, 2);
        b.output(b.name("tile_rank5").op("Tile", org.tessel.api.Attributes.empty(), x5, b.longs("reps5", 2, 1, 3, 1, 2)));
        Value big = b.input("big", f32, 16, 40);
        b.output(b.name("tile_big").op("Tile", org.tessel.api.Attributes.empty(), big, b.longs("repsg", 8, 50)));
        long[] idv = new long[3], fv = new long[6];
        for (int i = 0; i < idv.length; i++) idv[i] = r.nextInt(-1000, 1000);
        for (int i = 0; i < fv.length; i++) fv[i] = r.nextInt(2);
        List<Case> out = new ArrayList<>();
        // integer and bool data apart, so the floating graphs also run at FP16
        org.tessel.ir.NetworkBuilder bi = new org.tessel.ir.NetworkBuilder("tiles_int_bool");
        Value ids = bi.input("ids", i64, 3, 1);
        bi.output(bi.name("tile_i64").op("Tile", org.tessel.api.Attributes.empty(), ids, bi.longs("repsi", 2, 4)));
        Value flags = bi.input("flags", org.tessel.api.DType.BOOL, 2, 3);
        bi.output(bi.name("tile_bool").op("Tile", org.tessel.api.Attributes.empty(), flags, bi.longs("repsb", 1, 2)));
        out.add(new Case("synthetic_tiles", b.build(), Map.of("x", withTies(r, org.tessel.api.Shape.of(2, 3, 4), false), "x5", withTies(r, org.tessel.api.Shape.of(1, 2, 1, 3, 2), false),
                "big", withTies(r, org.tessel.api.Shape.of(16, 40), false))));
        out.add(new Case("synthetic_tiles_int_bool", bi.build(), Map.of("ids", Tensor.ofLongs(i64, org.tessel.api.Shape.of(3, 1), idv),
                "flags", Tensor.ofLongs(org.tessel.api.DType.BOOL, org.tessel.api.Shape.of(2, 3), fv))));

        org.tessel.ir.NetworkBuilder g = new org.tessel.ir.NetworkBuilder("gathernd");
        Value d = g.input("d", f32, 4, 3, 5);
        // batch_dims 0: tuples of 2 (negative coordinates among them), of 1 (rows) and of 3 (scalars)
        g.output(g.name("gnd_pairs").op("GatherND", org.tessel.api.Attributes.empty(), d,
                g.constant("pairs", Tensor.ofLongs(i64, org.tessel.api.Shape.of(2, 3, 2), 0, 0, 3, -1, -4, 2, 1, 1, 2, 0, -1, -3))));
        g.output(g.name("gnd_rows").op("GatherND", org.tessel.api.Attributes.empty(), d,
                g.constant("rows", Tensor.ofLongs(i32, org.tessel.api.Shape.of(3, 1), 3, 0, -3))));
        g.output(g.name("gnd_points").op("GatherND", org.tessel.api.Attributes.empty(), d,
                g.constant("points", Tensor.ofLongs(i64, org.tessel.api.Shape.of(2, 3), 3, 2, 4, -4, -3, -5))));
        // batch_dims 1 over f32 data, the indices computed (a graph input)
        Value df = g.input("df", f32, 3, 4, 2);
        Value tf = g.input("tf", i64, 3, 2, 1);
        g.output(g.name("gnd_batch1").op("GatherND", org.tessel.api.Attributes.builder().put("batch_dims", 1L).build(), df, tf));
        // batch_dims 2, a one-coordinate tuple per batch entry picking a row of 5
        Value d4 = g.input("d4", f32, 2, 3, 4, 5);
        g.output(g.name("gnd_batch2").op("GatherND", org.tessel.api.Attributes.builder().put("batch_dims", 2L).build(), d4,
                g.constant("b2", Tensor.ofLongs(i32, org.tessel.api.Shape.of(2, 3, 1, 1), 0, 3, -1, 2, 1, -4))));
        // a long slice: two rows of 3,000
        Value wide = g.input("wide", f32, 5, 3000);
        g.output(g.name("gnd_wide").op("GatherND", org.tessel.api.Attributes.empty(), wide, g.constant("wi", Tensor.ofLongs(i64, org.tessel.api.Shape.of(2, 1), 4, 1))));
        out.add(new Case("synthetic_gathernd", g.build(), Map.of("d", withTies(r, org.tessel.api.Shape.of(4, 3, 5), false),
                "df", withTies(r, org.tessel.api.Shape.of(3, 4, 2), false), "tf", Tensor.ofLongs(i64, org.tessel.api.Shape.of(3, 2, 1), 3, -4, 0, 1, -1, 2),
                "d4", withTies(r, org.tessel.api.Shape.of(2, 3, 4, 5), false), "wide", withTies(r, org.tessel.api.Shape.of(5, 3000), false))));
        // i32 data: batch_dims 1, computed i32 indices, and batch_dims 0 with constant pairs
        org.tessel.ir.NetworkBuilder gi = new org.tessel.ir.NetworkBuilder("gathernd_i32");
        Value di = gi.input("di", i32, 3, 4, 2);
        Value ti = gi.input("ti", i32, 3, 2, 1);
        gi.output(gi.name("gnd_batch1_i32").op("GatherND", org.tessel.api.Attributes.builder().put("batch_dims", 1L).build(), di, ti));
        gi.output(gi.name("gnd_pairs_i32").op("GatherND", org.tessel.api.Attributes.empty(), di,
                gi.constant("ipairs", Tensor.ofLongs(i64, org.tessel.api.Shape.of(2, 2), 2, -1, -3, 0))));
        long[] div = new long[24];
        for (int i = 0; i < div.length; i++) div[i] = r.nextInt(-500, 500);
        out.add(new Case("synthetic_gathernd_i32", gi.build(), Map.of("di", Tensor.ofLongs(i32, org.tessel.api.Shape.of(3, 4, 2), div),
                "ti", Tensor.ofLongs(i32, org.tessel.api.Shape.of(3, 2, 1), 3, -4, 0, 1, -1, 2))));
        return out;
    }

    /**
     * Index-op cases the node tests lack: integer and bool data (CumSum of i64, Trilu of bool, ScatterND's add and max on
     * i32 with duplicate tuples), TopK over rows with NaN and ties along a middle axis, ScatterElements' mul with
     * duplicates on a middle axis, a Range of computed length kept as a node (its inputs constants, the graph unfolded).
     */
    private static List<Case> indexCases(java.util.SplittableRandom r) {
        List<Case> out = new ArrayList<>();
        org.tessel.api.DType i64 = org.tessel.api.DType.I64;
        out.add(integers("int_cumsum_rev", "CumSum", i64, org.tessel.api.Attributes.builder().put("reverse", 1L).put("exclusive", 1L).build(), r, new int[] {3, 7, 2}, 1L));
        out.add(integers("bool_trilu", "Trilu", org.tessel.api.DType.BOOL, org.tessel.api.Attributes.builder().put("upper", 0L).build(), r, new int[] {2, 4, 5}));
        out.add(single("cumprod_mid", "CumProd", org.tessel.api.Attributes.builder().put("exclusive", 1L).build(), r, true, new int[] {2, 9, 3}, 1L));
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("index_mix");
        Value x = b.input("x", org.tessel.api.DType.F32, 3, 8, 4);
        List<Value> top = b.node("TopK", "topk_mid", org.tessel.api.Attributes.builder().put("axis", 1L).put("largest", 0L).build(), 2, x, b.longs("k", 5)).outputs();
        b.output(top.get(0));
        b.output(top.get(1));
        Value se = b.input("se", org.tessel.api.DType.F32, 3, 5, 4);
        Value sidx = b.constant("sidx", Tensor.ofLongs(i64, org.tessel.api.Shape.of(2, 3, 4), 0, 4, -1, 2, 1, 1, 3, 0, 4, 4, 4, 4, 2, 0, 1, 3, 0, 0, -5, 1, 2, 2, 2, 2));
        Value supd = b.input("supd", org.tessel.api.DType.F32, 2, 3, 4);
        b.output(b.name("scatter_mul").op("ScatterElements", org.tessel.api.Attributes.builder().put("axis", 1L).put("reduction", "mul").build(), se, sidx, supd));
        Value ni = b.input("ni", org.tessel.api.DType.I32, 4, 3);
        Value nidx = b.constant("nidx", Tensor.ofLongs(i64, org.tessel.api.Shape.of(3, 1), 2, -4, 2));
        Value nupd = b.input("nupd", org.tessel.api.DType.I32, 3, 3);
        b.output(b.name("scatternd_add").op("ScatterND", org.tessel.api.Attributes.builder().put("reduction", "add").build(), ni, nidx, nupd));
        b.output(b.name("scatternd_max").op("ScatterND", org.tessel.api.Attributes.builder().put("reduction", "max").build(), ni, nidx, nupd));
        b.output(b.name("range").op("Range", org.tessel.api.Attributes.empty(), b.constant("r0", org.tessel.api.Shape.scalar(), -1.5f),
                b.constant("r1", org.tessel.api.Shape.scalar(), 20f), b.constant("r2", org.tessel.api.Shape.scalar(), 0.75f)));
        Tensor xv = withTies(r, org.tessel.api.Shape.of(3, 8, 4), false);
        for (int i = 5; i < xv.size(); i += 13) xv.floats()[i] = Float.NaN;
        long[] niv = new long[12], nuv = new long[9];
        for (int i = 0; i < niv.length; i++) niv[i] = r.nextInt(-20, 20);
        for (int i = 0; i < nuv.length; i++) nuv[i] = r.nextInt(-20, 20);
        out.add(new Case("synthetic_index_mix", b.build(), Map.of("x", xv, "se", withTies(r, org.tessel.api.Shape.of(3, 5, 4), false),
                "supd", withTies(r, org.tessel.api.Shape.of(2, 3, 4), false), "ni", Tensor.ofLongs(org.tessel.api.DType.I32, org.tessel.api.Shape.of(4, 3), niv),
                "nupd", Tensor.ofLongs(org.tessel.api.DType.I32, org.tessel.api.Shape.of(3, 3), nuv))));
        return out;
    }

    private static Case single(String name, String op, org.tessel.api.Attributes attrs, java.util.SplittableRandom r, boolean positive, int[] dims, long... axes) {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder(name);
        Value x = b.input("x", org.tessel.api.DType.F32, dims);
        List<Value> ins = new ArrayList<>(List.of(x));
        if (axes.length > 0) ins.add(b.longs("axes", axes));
        b.output(b.name(name).op(op, attrs, ins.toArray(Value[]::new)));
        Tensor data = withTies(r, org.tessel.api.Shape.of(dims), positive);
        if (op.startsWith("Arg") || op.equals("Hardmax")) for (int i = 3; i < data.size(); i += 11) data.floats()[i] = Float.NaN; // rows with one NaN, some with two
        return new Case("synthetic_" + name, b.build(), Map.of("x", data));
    }

    private static Case integers(String name, String op, org.tessel.api.DType t, org.tessel.api.Attributes attrs, java.util.SplittableRandom r, int[] dims, long... axes) {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder(name);
        Value x = b.input("x", t, dims);
        List<Value> ins = new ArrayList<>(List.of(x));
        if (axes.length > 0) ins.add(b.longs("axes", axes));
        b.output(b.name(name).op(op, attrs, ins.toArray(Value[]::new)));
        org.tessel.api.Shape s = org.tessel.api.Shape.of(dims);
        long[] v = new long[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) v[i] = t == org.tessel.api.DType.BOOL ? (r.nextInt(5) == 0 ? 0 : 1) : r.nextInt(4) == 0 ? 7 : r.nextInt(-50, 50);
        return new Case("synthetic_" + name, b.build(), Map.of("x", Tensor.ofLongs(t, s, v)));
    }

    /** Values in [-2, 2) (or [0.5, 1.5) for logs and products), a quarter of them repeating one value (ties). */
    private static Tensor withTies(java.util.SplittableRandom r, org.tessel.api.Shape s, boolean positive) {
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = positive ? (float) (0.5 + r.nextDouble()) : (float) (r.nextDouble() * 4 - 2);
            if (r.nextInt(4) == 0) v[i] = positive ? 1.25f : 1.75f;
        }
        return Tensor.ofFloats(org.tessel.api.DType.F32, s, v);
    }

    private static Map<String, Tensor> inputsOf(Graph g, Map<String, Tensor> data) {
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (var v : g.inputs()) {
            Tensor t = data.get(v.name());
            if (t == null) throw new IllegalStateException("no test data for graph input %" + v.name());
            in.put(v.name(), t);
        }
        return in;
    }
}
