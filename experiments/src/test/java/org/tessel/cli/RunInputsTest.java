package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.onnx.OnnxTensors;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;

/** `tessel run ENGINE --inputs ... --save-outputs DIR`: inputs by name and by order, .npy and .pb, outputs equal the reference's; bad inputs name the file and the input. */
class RunInputsTest {
    @TempDir Path dir;

    private Path engine(String model) {
        Path f = dir.resolve(model + ".engine");
        CliRun r = CliRun.of("build", "zoo:" + model, "--cpu", "--save-engine", f.toString());
        assertEquals(0, r.code(), r.err());
        return f;
    }

    private static Tensor ids(long base) {
        Tensor t = Tensor.zeros(DType.I64, Shape.of(1, 16));
        for (int i = 0; i < 16; i++) t.setLong(i, (base + 7L * i) % 100);
        return t;
    }

    @Test void namedNpyInputsGiveTheReferenceOutputsSavedAsNpyAndPb() throws Exception {
        Path e = engine("bert-tiny");
        Tensor ids = ids(3), mask = Tensor.full(DType.I64, Shape.of(1, 16), 1);
        for (int i = 12; i < 16; i++) mask.setLong(i, 0);
        Path in = Files.createDirectories(dir.resolve("in"));
        // named after the inputs, in the opposite order of the engine's inputs: matched by name
        Npy.write(in.resolve("attention_mask.npy"), mask);
        Npy.write(in.resolve("input_ids.npy"), ids);
        Path out = dir.resolve("out");
        CliRun r = CliRun.of("run", e.toString(), "--inputs", in.toString(), "--save-outputs", out.toString(), "--iterations", "1", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("given inputs"), r.out());
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults());
        Map<String, Tensor> want = new ReferenceInterpreter().run(g, Map.of("input_ids", ids, "attention_mask", mask));
        assertFalse(want.isEmpty());
        for (var w : want.entrySet()) {
            Tensor got = Npy.read(out.resolve(TensorFiles.fileStem(w.getKey()) + ".npy"));
            assertNull(Compare.allClose(w.getValue(), got, 1e-4, 1e-5), w.getKey());
        }
        // different inputs give different outputs: the files were read, not ignored
        Npy.write(in.resolve("input_ids.npy"), ids(11));
        Path out2 = dir.resolve("out2");
        assertEquals(0, CliRun.of("run", e.toString(), "--inputs", in.toString(), "--save-outputs", out2.toString(), "--output-format", "pb", "--iterations", "1").code());
        String first = want.keySet().iterator().next();
        Tensor other = OnnxTensors.readTensor(out2.resolve(TensorFiles.fileStem(first) + ".pb"));
        assertNotNull(Compare.allClose(want.get(first), other, 1e-4, 1e-5));
    }

    @Test void unnamedFilesGoByOrderAndPbWorksToo() throws Exception {
        Path e = engine("bert-tiny");
        Tensor ids = ids(5), mask = Tensor.full(DType.I64, Shape.of(1, 16), 1);
        Path a = dir.resolve("a.pb"), b = dir.resolve("b.npy");
        OnnxTensors.writeTensor(a, ids);
        Npy.write(b, mask);
        Path out = dir.resolve("o");
        CliRun r = CliRun.of("run", e.toString(), "--inputs", a + "," + b, "--save-outputs", out.toString(), "--iterations", "1");
        assertEquals(0, r.code(), r.err());
        Graph g = Zoo.build("bert-tiny", ZooOptions.defaults());
        List<Tensor> want = new ReferenceInterpreter().run(g, List.of(ids, mask));
        Tensor got = Npy.read(out.resolve(TensorFiles.fileStem(g.outputs().get(0).name()) + ".npy"));
        assertNull(Compare.allClose(want.get(0), got, 1e-4, 1e-5));
    }

    @Test void badInputsAreOneLineNamingTheFileAndTheInput() throws Exception {
        Path e = engine("bert-tiny");
        Path wrongShape = dir.resolve("input_ids.npy");
        Npy.write(wrongShape, Tensor.zeros(DType.I64, Shape.of(1, 8)));
        Npy.write(dir.resolve("attention_mask.npy"), Tensor.zeros(DType.I64, Shape.of(1, 16)));
        CliRun r = CliRun.of("run", e.toString(), "--inputs", wrongShape + "," + dir.resolve("attention_mask.npy"));
        assertEquals(2, r.code());
        assertEquals("tessel run: " + wrongShape + ": i64[1,8] for input %input_ids, which is i64[1,16]", r.err().strip());

        Npy.write(wrongShape, Tensor.zeros(DType.F32, Shape.of(1, 16)));
        r = CliRun.of("run", e.toString(), "--inputs", wrongShape + "," + dir.resolve("attention_mask.npy"));
        assertEquals("tessel run: " + wrongShape + ": f32[1,16] for input %input_ids, which is i64[1,16]", r.err().strip());

        r = CliRun.of("run", e.toString(), "--inputs", dir.resolve("attention_mask.npy").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().strip().startsWith("tessel run: --inputs: no file for input %input_ids (i64[1,16]); given: "), r.err());
        assertEquals(1, r.err().strip().lines().count());

        Path stray = dir.resolve("stray.npy");
        Npy.write(stray, Tensor.zeros(DType.I64, Shape.of(1, 16)));
        r = CliRun.of("run", e.toString(), "--inputs", stray + "," + dir.resolve("attention_mask.npy"));
        assertTrue(r.err().startsWith("tessel run: --inputs: " + stray + " is named after no input (inputs: [%input_ids: i64[1,16], %attention_mask: i64[1,16]]); name every file"), r.err());

        r = CliRun.of("run", e.toString(), "--inputs", dir.resolve("nope.npy").toString());
        assertEquals("tessel run: --inputs " + dir.resolve("nope.npy") + ": no such file or folder", r.err().strip());

        Path txt = dir.resolve("t.txt");
        Files.writeString(txt, "1 2 3");
        r = CliRun.of("run", e.toString(), "--inputs", txt + "," + stray);
        assertEquals("tessel run: " + txt + ": not a tensor file (expected .npy or .pb)", r.err().strip());
    }

    @Test void anOnnxTestDataSetFolderRunsThroughTheEngine() throws Exception {
        Path m = Shared.model("light_squeezenet");
        Path e = dir.resolve("sq.engine");
        assertEquals(0, CliRun.of("build", m.resolve("model.onnx").toString(), "--cpu", "--save-engine", e.toString()).code());
        Path out = dir.resolve("sq-out");
        CliRun r = CliRun.of("run", e.toString(), "--inputs", m.resolve("test_data_set_0").toString(), "--save-outputs", out.toString(), "--iterations", "1", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        Tensor want = OnnxTensors.readTensor(m.resolve("test_data_set_0/output_0.pb"));
        try (var files = Files.list(out)) {
            List<Path> saved = files.toList();
            assertEquals(1, saved.size(), saved.toString());
            assertNull(Compare.allClose(want, Npy.read(saved.getFirst()), 1e-3, 1e-4), "onnxruntime's reference output");
        }
    }
}
