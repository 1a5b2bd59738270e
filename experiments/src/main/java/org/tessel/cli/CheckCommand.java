package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.tessel.api.DType;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.ReferenceInterpreter;
import org.tessel.ir.Value;
import org.tessel.ir.Verifier;
import org.tessel.ir.onnx.OnnxTensors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Verifies a model and runs it through the reference interpreter, on given test data (compared
 * with the expected outputs) or on seeded random inputs.
 */
@Command(name = "check", description = "Verify a model and run it on the reference interpreter (optionally against ONNX test data).")
final class CheckCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--data", description = "An ONNX test_data_set folder (input_i.pb, output_i.pb); default: the one beside an .onnx file, else random inputs.") Path data;
    @Option(names = "--rtol", converter = Ranges.Tolerance.class, defaultValue = "1e-3", description = "Relative tolerance (default ${DEFAULT-VALUE}).") double rtol;
    @Option(names = "--atol", converter = Ranges.Tolerance.class, defaultValue = "1e-4", description = "Absolute tolerance (default ${DEFAULT-VALUE}).") double atol;

    @Override public Integer call() throws Exception {
        long t0 = System.nanoTime();
        Graph g = model.load();
        Verifier.verify(g);
        long t1 = System.nanoTime();
        System.out.printf("%s: %d nodes, verified, loaded in %.2f s%n", g.name(), g.nodes().size(), (t1 - t0) / 1e9);
        Path dir = data;
        if (dir == null && !model.name().startsWith("zoo:")) {
            Path beside = Path.of(model.model).toAbsolutePath().getParent().resolve("test_data_set_0");
            if (Files.isDirectory(beside)) dir = beside;
        }
        List<Tensor> inputs = new ArrayList<>();
        List<Tensor> expected = new ArrayList<>();
        if (dir != null) {
            for (int i = 0; i < g.inputs().size(); i++) inputs.add(OnnxTensors.readTensor(dir.resolve("input_" + i + ".pb")));
            for (int i = 0; Files.exists(dir.resolve("output_" + i + ".pb")); i++) expected.add(OnnxTensors.readTensor(dir.resolve("output_" + i + ".pb")));
            System.out.println("inputs from " + dir);
        } else {
            SplittableRandom r = new SplittableRandom(model.seed);
            for (Value v : g.inputs()) inputs.add(random(v, r));
            System.out.println("inputs: seeded random (seed " + model.seed + ")");
        }
        long t2 = System.nanoTime();
        List<Tensor> outs = new ReferenceInterpreter().run(g, inputs);
        long t3 = System.nanoTime();
        System.out.printf("reference interpreter: %.3f s%n", (t3 - t2) / 1e9);
        int bad = 0;
        for (int i = 0; i < outs.size(); i++) {
            Tensor o = outs.get(i);
            String cmp = "";
            if (i < expected.size()) {
                String diff = Compare.allClose(expected.get(i), o, rtol, atol);
                cmp = diff == null ? "  matches expected" : "  MISMATCH: " + diff;
                if (diff != null) bad++;
            }
            System.out.printf("output %%%s: %s%s%n", g.outputs().get(i).name(), o, cmp);
        }
        return bad == 0 ? 0 : 1;
    }

    private static Tensor random(Value v, SplittableRandom r) {
        Tensor t = Tensor.zeros(v.type().dtype(), v.type().shape());
        DType d = t.dtype();
        for (int i = 0; i < t.size(); i++) {
            if (d.isFloating()) t.setDouble(i, r.nextDouble(-1, 1));
            else if (d == DType.BOOL) t.setLong(i, r.nextInt(2));
            else t.setLong(i, r.nextInt(10));
        }
        return t;
    }
}
