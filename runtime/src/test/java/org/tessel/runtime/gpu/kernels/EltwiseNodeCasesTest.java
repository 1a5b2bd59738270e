package org.tessel.runtime.gpu.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.onnx.Conformance;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.tactics.plan.EnginePlan;
import org.tessel.tactics.plan.PlannedNode;

/**
 * The elementwise family against ONNX's node cases, on the CPU (no GPU needed): for every case of an op
 * that tessel.eltwise or tessel.cast runs, the catalogue offers the tactic exactly where the code
 * generator builds the node (and names why not where it does not), and the GPU builder's plan check takes
 * the graph; every generated kernel compiles with nvcc for sm_90; and every kernel runs on the host (one CUDA thread under
 * eltwise_host_shim.h, which the grid-stride loops make cover every element), node by node as the
 * engine runs them, matching ONNX's expected outputs in f32 storage and the reference interpreter at
 * f16 and bf16 storage. Skipped when the node cases (or nvcc, g++) are absent.
 */
class EltwiseNodeCasesTest {
    static Map<String, Object> cases() throws IOException {
        Path dir = EltwiseNodeCases.folder();
        assumeTrue(dir != null, "ONNX node cases not found under " + System.getProperty("tessel.shared", "/work/shared") + " (set -Dtessel.shared.dir); skipping");
        return EltwiseNodeCases.load(dir);
    }

    /** The imported cases whose every node this family builds. */
    static List<EltwiseNodeCases.Case> runnable() throws IOException {
        List<EltwiseNodeCases.Case> out = new ArrayList<>();
        for (Object o : cases().values())
            if (o instanceof EltwiseNodeCases.Case c && c.onlyEltwise() && !c.graph().nodes().isEmpty()
                    && c.graph().nodes().stream().allMatch(n -> EltwiseNodeCases.whyNot(n) == null)) out.add(c);
        return out;
    }

    @Test void theCatalogueOffersEveryNodeWhoseTypesTheKernelsHoldAndThePlanCheckTakesThem() throws IOException {
        Map<String, Object> all = cases();
        int offered = 0, refused = 0, planned = 0;
        List<String> wrong = new ArrayList<>();
        Map<String, Integer> refusals = new TreeMap<>();
        for (Object o : all.values()) {
            if (!(o instanceof EltwiseNodeCases.Case c)) continue;
            boolean whole = !c.graph().nodes().isEmpty();
            for (Node n : c.graph().nodes()) {
                if (!EltwiseNodeCases.OPS.contains(n.opName())) { whole = false; continue; }
                String why = EltwiseNodeCases.whyNot(n);
                String types = org.tessel.tactics.eltwise.EltwiseTactics.valueWhyNot(n);
                if (types != null && (why == null || !why.contains("holds no"))) wrong.add(c.name() + ": " + n.describe() + " should be refused for its types, got " + why);
                // the catalogue offers exactly what the engine builds: the generator takes every offered node and refuses the others
                String generated;
                try {
                    Graph body = EltwiseCodegen.singleOpBody(n);
                    EltwiseCodegen.generate(body, EltwiseCodegen.scalarLiterals(body, EltwiseCodegen.singleOpOperands(n)), DType.F32);
                    generated = null;
                } catch (IllegalArgumentException e) {
                    generated = e.getMessage();
                }
                if ((why == null) != (generated == null))
                    wrong.add(c.name() + ": " + n.describe() + (why == null ? " offered, but the generator refuses it: " + generated : " refused (" + why + "), but the generator takes it"));
                if (why != null) refusals.merge(why.replaceAll("%[A-Za-z0-9_./:-]+|node '[^']*'", "_").replaceAll("shape \\[[0-9,]*\\]", "shape _"), 1, Integer::sum);
                if (why == null) offered++;
                else { refused++; whole = false; }
            }
            if (!whole) continue;
            List<PlannedNode> nodes = new ArrayList<>();
            for (Node n : c.graph().nodes())
                nodes.add(new PlannedNode(n.name(), n.opName(), EltwiseNodeCases.tacticFor(n).id(), null, Precision.FP32, Layout.NCHW, 0, 0));
            EnginePlan plan = new EnginePlan(c.name(), "test", "gpu", 0, List.of(), nodes, List.of(), 0, 0);
            try {
                GpuEngine.checkPlan(c.graph(), plan, GpuEngine.Precision.FP32);
                planned++;
            } catch (RuntimeException e) {
                wrong.add(c.name() + ": plan check refused: " + e.getMessage());
            }
        }
        System.out.printf("eltwise node cases: %d with our ops (%d refused by the importer); nodes offered %d, refused %d; whole graphs plan-checked %d; refusals %s%n",
                all.size(), all.values().stream().filter(o -> o instanceof String).count(), offered, refused, planned, refusals);
        assertEquals(List.of(), wrong);
        assertTrue(offered > 500 && planned > 300, "too few node cases checked (" + offered + " nodes, " + planned + " graphs): did loading break?");
    }

    // ---- the generated kernels, batched: one nvcc file and one g++ program hold many of them -------------------------

    /** One generated kernel, the name of its vector form and the parameter types its call takes, in order. */
    record Kernel(String code, String vectorName, List<String> paramTypes) {}

    static Kernel kernel(EltwiseCodegen.Source s, DType floatStorage) {
        List<String> types = new ArrayList<>();
        for (Value v : s.inputs()) types.add("const " + EltwiseCodegen.storageC(EltwiseCodegen.storage(v.type().dtype(), floatStorage), "") + "*");
        for (Value v : s.constantInputs()) types.add("const " + EltwiseCodegen.storageC(EltwiseCodegen.storage(v.type().dtype(), floatStorage), "") + "*");
        for (Value v : s.outputs()) types.add(EltwiseCodegen.storageC(EltwiseCodegen.storage(v.type().dtype(), floatStorage), "") + "*");
        return new Kernel(s.code(), s.vectorKernelName(), types);
    }

    /** Kernel k's source in namespace k{index}, without the prelude and without C linkage (so names may repeat). */
    static String namespaced(int index, String code) {
        String prelude = KernelCompiler.prelude();
        assertTrue(code.startsWith(prelude), "a generated kernel no longer starts with the prelude");
        return "namespace k" + index + " {\n" + code.substring(prelude.length()).replace("extern \"C\" ", "") + "}\n";
    }

    /** Every distinct kernel the cases need, at each storage type, in first-use order. */
    static final class Kernels {
        final List<Kernel> list = new ArrayList<>();
        final Map<String, Integer> index = new LinkedHashMap<>();

        int add(Kernel k) {
            return index.computeIfAbsent(k.code(), c -> { list.add(k); return list.size() - 1; });
        }
    }

    @Test void everyGeneratedKernelCompilesWithNvccForSm90(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.nvccAvailable(), "nvcc is not on the PATH");
        Kernels ks = new Kernels();
        List<String> refused = new ArrayList<>();
        for (EltwiseNodeCases.Case c : runnable())
            for (DType st : new DType[] {DType.F32, DType.F16, DType.BF16})
                for (Node n : c.graph().nodes()) {
                    Graph body = EltwiseCodegen.singleOpBody(n);
                    try {
                        ks.add(kernel(EltwiseCodegen.generate(body, EltwiseCodegen.scalarLiterals(body, EltwiseCodegen.singleOpOperands(n)), st), st));
                    } catch (IllegalArgumentException e) {
                        refused.add(c.name() + " at " + st.text() + ": the catalogue offers " + n.describe() + " but the generator refuses it: " + e.getMessage());
                    }
                }
        assertEquals(List.of(), refused);
        // one fused body holding typed values of every kind, as a fused chain would
        ks.add(kernel(EltwiseCodegen.generate(typedChain(), Map.of(), DType.F16), DType.F16));
        int perFile = (ks.list.size() + 3) / 4;
        Map<String, String> files = new LinkedHashMap<>();
        for (int f = 0; f * perFile < ks.list.size(); f++) {
            StringBuilder src = new StringBuilder(KernelCompiler.prelude());
            for (int k = f * perFile; k < Math.min(ks.list.size(), (f + 1) * perFile); k++) src.append(namespaced(k, ks.list.get(k).code()));
            files.put("eltwise_cases_" + f, src.toString());
        }
        long t0 = System.nanoTime();
        assertEquals("", KernelSourcesCompileTest.compileAll(dir, files, ptx -> ptx.contains(".entry") ? null : "no kernel entry in the PTX"), "generated kernels nvcc rejects");
        System.out.printf("nvcc: %d distinct elementwise kernels in %d files, %.1f s%n", ks.list.size(), files.size(), (System.nanoTime() - t0) / 1e9);
    }

    /** A chain mixing types in one body: i64 arithmetic, a comparison to bool, logic, Where back to floats, a cast. */
    static Graph typedChain() {
        org.tessel.ir.NetworkBuilder b = new org.tessel.ir.NetworkBuilder("typed_chain");
        Value x = b.input("x", DType.F32, 2, 3);
        Value k = b.input("k", DType.I64, 2, 3);
        Value m = b.op("Mod", org.tessel.ir.NetworkBuilder.attrs("fmod", 0), b.op("Mul", null, k, b.constant("three", Tensor.ofLongs(DType.I64, Shape.of(1), 3))),
                b.constant("five", Tensor.ofLongs(DType.I64, Shape.of(3), 5, -5, 4)));
        Value less = b.op("Less", null, b.cast(m, DType.F32), x);
        Value both = b.op("And", null, less, b.op("Not", null, b.op("IsNaN", null, x)));
        Value y = b.op("Where", null, both, x, b.op("Neg", null, x));
        return b.output(b.cast(y, DType.F16), b.op("BitShift", org.tessel.ir.NetworkBuilder.attrs("direction", "LEFT"), b.op("Add", null, k, k), k)).build();
    }

    // ---- the host run ------------------------------------------------------------------------------------------------

    /** Little-endian bytes of {@code t} (values of its logical type) in storage type {@code st}; throws when an integer exceeds i32. */
    static byte[] encode(Tensor t, DType st, String what) {
        int n = t.size();
        ByteBuffer b = ByteBuffer.allocate(Math.max(1, n * st.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (st) {
                case F32 -> b.putFloat(t.getFloat(i));
                case F16 -> b.putShort(Float.floatToFloat16(t.getFloat(i)));
                case BF16 -> b.putShort((short) (Float.floatToRawIntBits(Tensor.roundBf16(t.getFloat(i))) >>> 16));
                case BOOL -> b.put((byte) (t.getLong(i) != 0 ? 1 : 0));
                case I32 -> {
                    long v = t.getLong(i);
                    if (v != (int) v) throw new OutsideI32(what + " element " + i + " = " + v);
                    b.putInt((int) v);
                }
                default -> throw new IllegalArgumentException("no storage " + st.text());
            }
        }
        return b.array();
    }

    /** An integer value the engine cannot keep (it holds integers as i32): the case is skipped, as the engine refuses such inputs. */
    static final class OutsideI32 extends RuntimeException {
        OutsideI32(String m) { super(m + " is outside the i32 range the GPU engine keeps integers in"); }
    }

    /**
     * The stored values as a tensor: floats of type {@code as} (the logical type, or the storage type to compare at its
     * tolerance), integers and bools of their logical type. A bool byte other than 0 or 1 means the kernel never wrote it.
     */
    static Tensor decode(byte[] bytes, DType st, DType logical, DType as, Shape shape) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        Tensor t = Tensor.zeros(logical.isFloating() ? as : logical, shape);
        for (int i = 0; i < t.size(); i++) {
            switch (st) {
                case F32 -> t.setDouble(i, b.getFloat(4 * i));
                case F16 -> t.setDouble(i, Float.float16ToFloat(b.getShort(2 * i)));
                case BF16 -> t.setDouble(i, Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16));
                case I32 -> t.setLong(i, b.getInt(4 * i));
                case BOOL -> {
                    byte v = b.get(i);
                    if (v != 0 && v != 1) throw new AssertionError("bool element " + i + " holds " + v + ": the kernel did not write it");
                    t.setLong(i, v);
                }
                default -> throw new IllegalArgumentException("no storage " + st.text());
            }
        }
        return t;
    }

    /** One kernel launch of the host program: kernel index, scalar or vector form, elements, parameter files and sizes. */
    record Job(int kernel, boolean vec, long n, List<String> ins, List<Long> inBytes, List<String> outs, List<Long> outBytes) {
        String line() {
            StringBuilder s = new StringBuilder(kernel + " " + (vec ? 1 : 0) + " " + n + " " + ins.size() + " " + outs.size());
            for (int i = 0; i < ins.size(); i++) s.append(' ').append(ins.get(i)).append(' ').append(inBytes.get(i));
            for (int i = 0; i < outs.size(); i++) s.append(' ').append(outs.get(i)).append(' ').append(outBytes.get(i));
            return s.append('\n').toString();
        }
    }

    /** What one node's host run is checked against: the node, its storage, and its output and vector-output files. */
    record Check(EltwiseNodeCases.Case c, DType storage, Node node, List<Value> inputs, Map<Value, String> files, String out, String outVec) {}

    @Test void everyKernelRunOnTheHostMatchesOnnxAndTheReference(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        Kernels ks = new Kernels();
        List<Job> jobs = new ArrayList<>();
        List<Check> checks = new ArrayList<>();
        List<String> skipped = new ArrayList<>(), generatorRefused = new ArrayList<>();
        int file = 0, runs = 0;
        for (EltwiseNodeCases.Case c : runnable()) {
            if (c.expected().size() != c.graph().outputs().size()) { skipped.add(c.name() + ": outputs differ in number"); continue; }
            List<DType> storages = new ArrayList<>(List.of(DType.F32));
            if (c.hasFloats() && c.f32Only()) { storages.add(DType.F16); storages.add(DType.BF16); }
            for (DType st : storages) {
                Map<Value, String> files = new IdentityHashMap<>();
                List<Job> caseJobs = new ArrayList<>();
                List<Check> caseChecks = new ArrayList<>();
                try {
                    for (int i = 0; i < c.graph().inputs().size(); i++) {
                        Value v = c.graph().inputs().get(i);
                        String f = "f" + file++ + ".bin";
                        Files.write(dir.resolve(f), encode(c.feed().get(i), EltwiseCodegen.storage(v.type().dtype(), st), c.name() + " input %" + v.name()));
                        files.put(v, f);
                    }
                    for (Node n : c.graph().nodes()) {
                        Graph body = EltwiseCodegen.singleOpBody(n);
                        EltwiseCodegen.Source src = EltwiseCodegen.generate(body, EltwiseCodegen.scalarLiterals(body, EltwiseCodegen.singleOpOperands(n)), st);
                        int k = ks.add(kernel(src, st));
                        List<String> ins = new ArrayList<>();
                        List<Long> inBytes = new ArrayList<>();
                        List<Value> outer = new ArrayList<>();
                        for (Value bv : src.inputs()) outer.add(EltwiseCodegen.singleOpOperands(n).get(body.inputs().indexOf(bv)));
                        for (Value o : outer) {
                            String f = files.get(o);
                            if (f == null && o.isConstant()) {
                                f = "f" + file++ + ".bin";
                                Files.write(dir.resolve(f), encode(o.constantValue(), EltwiseCodegen.storage(o.type().dtype(), st), c.name() + " constant %" + o.name()));
                                files.put(o, f);
                            }
                            if (f == null) throw new AssertionError(c.name() + ": no data for %" + o.name());
                            ins.add(f);
                            inBytes.add(Math.max(1, o.type().numElements() * EltwiseCodegen.storage(o.type().dtype(), st).bytes()));
                        }
                        for (Value cv : src.constantInputs()) {
                            String f = "f" + file++ + ".bin";
                            Files.write(dir.resolve(f), encode(cv.constantValue(), EltwiseCodegen.storage(cv.type().dtype(), st), c.name() + " constant %" + cv.name()));
                            ins.add(f);
                            inBytes.add(Files.size(dir.resolve(f)));
                        }
                        Value out = n.output();
                        long outBytes = Math.max(1, out.type().numElements() * EltwiseCodegen.storage(out.type().dtype(), st).bytes());
                        String of = "f" + file++ + ".bin", ov = "f" + file++ + ".bin";
                        caseJobs.add(new Job(k, false, src.elements(), ins, inBytes, List.of(of), List.of(outBytes)));
                        caseJobs.add(new Job(k, true, src.elements(), ins, inBytes, List.of(ov), List.of(outBytes)));
                        files.put(out, of);
                        caseChecks.add(new Check(c, st, n, EltwiseCodegen.singleOpOperands(n), files, of, ov));
                    }
                } catch (OutsideI32 e) {
                    skipped.add(c.name() + " at " + st.text() + ": " + e.getMessage());
                    continue;
                } catch (IllegalArgumentException e) {
                    generatorRefused.add(c.name() + " at " + st.text() + ": the catalogue offers it but the generator refuses: " + e.getMessage());
                    continue;
                }
                jobs.addAll(caseJobs);
                checks.addAll(caseChecks);
                runs++;
            }
        }
        assertEquals(List.of(), generatorRefused);
        long t0 = System.nanoTime();
        runHost(dir, ks, jobs);
        double seconds = (System.nanoTime() - t0) / 1e9;

        List<String> failures = new ArrayList<>();
        Map<String, Integer> perOp = new TreeMap<>();
        for (Check ch : checks) {
            String where = ch.c().name() + " at " + ch.storage().text() + ", " + ch.node().describe();
            Value out = ch.node().output();
            DType st = EltwiseCodegen.storage(out.type().dtype(), ch.storage());
            byte[] scalar = Files.readAllBytes(dir.resolve(ch.out())), vec = Files.readAllBytes(dir.resolve(ch.outVec()));
            if (!java.util.Arrays.equals(scalar, vec)) failures.add(where + ": the vector kernel's output differs from the scalar kernel's");
            try {
                // the node alone against the reference on the very inputs the kernel read (f16/bf16: rounded to the storage)
                if (ch.c().f32Only()) {
                    List<Tensor> ins = new ArrayList<>();
                    for (Value v : ch.inputs()) {
                        if (v == null) continue;
                        DType vs = EltwiseCodegen.storage(v.type().dtype(), ch.storage());
                        boolean literal = v.isConstant() && v.type().numElements() == 1;
                        ins.add(literal ? v.constantValue() : decode(Files.readAllBytes(dir.resolve(ch.files().get(v))), vs, v.type().dtype(), v.type().dtype(), v.type().shape()));
                    }
                    Graph body = EltwiseCodegen.singleOpBody(ch.node());
                    Tensor want = new ReferenceInterpreter().run(body, ins).get(0);
                    DType as = out.type().dtype().isFloating() ? ch.storage() : out.type().dtype();
                    if (as != want.dtype()) {
                        Tensor r = Tensor.zeros(as, want.shape());
                        for (int i = 0; i < r.size(); i++) r.setDouble(i, want.getDouble(i));
                        want = r;
                    }
                    String why = Conformance.compare(want, decode(scalar, st, out.type().dtype(), as, out.type().shape()), Conformance.Tolerance.NODE);
                    if (why != null) failures.add(where + " vs the reference: " + why);
                }
                // the graph's outputs against ONNX's expected ones (f32 storage)
                int o = ch.c().graph().outputs().indexOf(out);
                if (o >= 0 && ch.storage() == DType.F32) {
                    Tensor expected = ch.c().expected().get(o);
                    String why = Conformance.compare(expected, decode(scalar, st, out.type().dtype(), expected.dtype(), out.type().shape()), Conformance.Tolerance.NODE);
                    if (why != null) failures.add(where + " output " + o + " vs ONNX's expected: " + why);
                }
            } catch (AssertionError | RuntimeException e) {
                failures.add(where + ": " + e.getMessage());
            }
            perOp.merge(ch.node().opName(), 1, Integer::sum);
        }
        System.out.printf("host run: %d kernels, %d node runs in %d case runs (%d skipped), %.1f s; per op %s%n", ks.list.size(), checks.size(), runs, skipped.size(), seconds, perOp);
        skipped.forEach(s -> System.out.println("skip " + s));
        assertEquals(List.of(), failures);
        assertTrue(new TreeSet<>(perOp.keySet()).containsAll(List.of("Abs", "Acosh", "And", "BitShift", "BitwiseNot", "Ceil", "Clip", "DequantizeLinear", "Equal", "IsInf", "Mod", "QuantizeLinear", "Where", "Xor")),
                "ops never run on the host: " + perOp.keySet());
    }

    /** A fused chain mixing types ({@link #typedChain}) as one kernel at each storage type, run on the host: the reference's outputs. */
    @Test void aFusedChainOfTypedValuesRunsOnTheHostAsTheReference(@TempDir Path dir) throws Exception {
        assumeTrue(KernelSourcesCompileTest.gxxAvailable(), "g++ is not on the PATH");
        Graph g = typedChain();
        Tensor x = Tensor.ofFloats(Shape.of(2, 3), -7.5f, Float.NaN, 2f, 0f, 13f, -1f);
        Tensor k = Tensor.ofLongs(DType.I64, Shape.of(2, 3), -4, 3, 0, 7, -1, 2);
        List<Tensor> want = new ReferenceInterpreter().run(g, List.of(x, k));
        Kernels ks = new Kernels();
        List<Job> jobs = new ArrayList<>();
        DType[] storages = {DType.F32, DType.F16, DType.BF16};
        for (DType st : storages) {
            EltwiseCodegen.Source src = EltwiseCodegen.generate(g, Map.of(), st);
            assertEquals(List.of(g.inputs().get(0), g.inputs().get(1)), src.inputs());
            int index = ks.add(kernel(src, st));
            Files.write(dir.resolve("x_" + st.text()), encode(x, st, "x"));
            Files.write(dir.resolve("k_" + st.text()), encode(k, DType.I32, "k"));
            List<String> ins = new ArrayList<>(List.of("x_" + st.text(), "k_" + st.text()));
            List<Long> inBytes = new ArrayList<>(List.of(6L * st.bytes(), 24L));
            for (Value c : src.constantInputs()) {
                Files.write(dir.resolve(c.name() + "_" + st.text()), encode(c.constantValue(), EltwiseCodegen.storage(c.type().dtype(), st), c.name()));
                ins.add(c.name() + "_" + st.text());
                inBytes.add(Math.max(1, c.type().numElements() * EltwiseCodegen.storage(c.type().dtype(), st).bytes()));
            }
            jobs.add(new Job(index, false, src.elements(), ins, inBytes, List.of("y_" + st.text(), "s_" + st.text()), List.of(6L * st.bytes(), 24L)));
        }
        runHost(dir, ks, jobs);
        for (DType st : storages) {
            Tensor y = decode(Files.readAllBytes(dir.resolve("y_" + st.text())), st, DType.F16, DType.F16, Shape.of(2, 3));
            Tensor shifted = decode(Files.readAllBytes(dir.resolve("s_" + st.text())), DType.I32, DType.I64, DType.I64, Shape.of(2, 3));
            assertEquals(null, Conformance.compare(want.get(0), y, Conformance.Tolerance.NODE), st.text() + ": the f16 output");
            assertEquals(null, Conformance.compare(want.get(1), shifted, Conformance.Tolerance.NODE), st.text() + ": the i64 output");
        }
    }

    /** Builds the host program of all kernels and runs every job in order (later jobs read earlier outputs). */
    static void runHost(Path dir, Kernels ks, List<Job> jobs) throws Exception {
        String shim;
        try (java.io.InputStream in = EltwiseNodeCasesTest.class.getResourceAsStream("eltwise_host_shim.h")) {
            shim = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        StringBuilder cpp = new StringBuilder(shim).append("#include <string>\n");
        for (int k = 0; k < ks.list.size(); k++) cpp.append(namespaced(k, ks.list.get(k).code()));
        cpp.append("static void run(int k, int vec, void** p, long long n) {\n    switch (k) {\n");
        for (int k = 0; k < ks.list.size(); k++) {
            StringBuilder args = new StringBuilder();
            List<String> types = ks.list.get(k).paramTypes();
            for (int i = 0; i < types.size(); i++) args.append('(').append(types.get(i)).append(") p[").append(i).append("], ");
            cpp.append("        case ").append(k).append(": if (vec) k").append(k).append("::").append(ks.list.get(k).vectorName())
                    .append('(').append(args).append("n); else k").append(k).append("::").append(EltwiseCodegen.KERNEL_NAME).append('(').append(args).append("n); break;\n");
        }
        cpp.append("""
                    default: std::fprintf(stderr, "no kernel %d\\n", k); std::exit(3);
                    }
                }
                int main(int argc, char** argv) {
                    FILE* jobs = std::fopen(argv[1], "r");
                    if (!jobs) { std::fprintf(stderr, "cannot read %s\\n", argv[1]); return 2; }
                    int k, vec, nin, nout; long long n;
                    char path[4096]; long long bytes;
                    while (std::fscanf(jobs, "%d %d %lld %d %d", &k, &vec, &n, &nin, &nout) == 5) {
                        std::vector<std::vector<unsigned char>> bufs(nin + nout);
                        std::vector<void*> p(nin + nout);
                        std::vector<std::string> outs;
                        for (int i = 0; i < nin + nout; i++) {
                            if (std::fscanf(jobs, "%4095s %lld", path, &bytes) != 2) { std::fprintf(stderr, "bad job\\n"); return 2; }
                            bufs[i].assign(bytes + 16, 0x7f); // unwritten outputs show as 0x7f bytes
                            if (i < nin) {
                                FILE* f = std::fopen(path, "rb");
                                if (!f || std::fread(bufs[i].data(), 1, bytes, f) != (size_t) bytes) { std::fprintf(stderr, "cannot read %s\\n", path); return 2; }
                                std::fclose(f);
                            } else outs.push_back(path);
                            p[i] = bufs[i].data();
                        }
                        run(k, vec, p.data(), n);
                        for (int o = 0; o < nout; o++) {
                            FILE* f = std::fopen(outs[o].c_str(), "wb");
                            size_t size = bufs[nin + o].size() - 16;
                            if (!f || std::fwrite(bufs[nin + o].data(), 1, size, f) != size) { std::fprintf(stderr, "cannot write %s\\n", outs[o].c_str()); return 2; }
                            std::fclose(f);
                        }
                    }
                    return 0;
                }
                """);
        Files.writeString(dir.resolve("kernels.cpp"), cpp);
        StringBuilder lines = new StringBuilder();
        for (Job j : jobs) lines.append(j.line());
        Files.writeString(dir.resolve("jobs.txt"), lines);
        Process cc = new ProcessBuilder("g++", "-std=c++17", "-O0", "-ffp-contract=off", "-w", "-o", "kernels", "kernels.cpp").directory(dir.toFile()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "g++ failed on the generated kernels:\n" + (ccOut.length() > 8000 ? ccOut.substring(0, 8000) : ccOut));
        Process run = new ProcessBuilder(dir.resolve("kernels").toString(), "jobs.txt").directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.waitFor(), "the host program failed: " + out);
    }
}
