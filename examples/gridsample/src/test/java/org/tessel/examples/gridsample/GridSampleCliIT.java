package org.tessel.examples.gridsample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.api.PluginApi;

/**
 * The GridSample plugin as a user meets it: its jar on `--plugins`, nothing of it on the class path.
 * `tessel plugins` lists its op, tactic and CUDA kernel; an ONNX model with GridSample (a spatial
 * transformer made here with the ONNX protobuf classes) is unknown without the plugin, and with it
 * checks, compares equal to ONNX Runtime, searches, builds a CPU engine whose plan runs the
 * plugin's GPU tactic (emulated), and runs.
 */
class GridSampleCliIT {
    @TempDir Path dir;

    @Test void thePluginIsOnlyReachableThroughItsJar() {
        Cli.jar();
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.tessel.examples.gridsample.GridSampleOp"));
    }

    @Test void listedAndUsedFromTheCommandLine() throws Exception {
        String jar = Cli.jar().toString();
        Cli list = Cli.run("plugins", "--plugins", jar);
        assertEquals(0, list.code(), list.toString());
        assertTrue(list.out().contains(Cli.jar().getFileName() + "  version 0.1.0-SNAPSHOT  plugin API " + PluginApi.VERSION), list.out());
        assertTrue(list.out().contains("ops:       GridSample") && list.out().contains("tactics:   example.gridsample.cuda"), list.out());
        assertTrue(list.out().contains("gpu kernel: example.gridsample.cuda -> gridsample.cu: f32/nchw, f16/nchw, bf16/nchw (CUDA C, tessel-cuda-1)"), list.out());

        Path model = dir.resolve("spatial-transformer.onnx");
        Files.write(model, GridSampleModels.transformer(5));
        Cli without = Cli.run("check", model.toString());
        assertEquals(2, without.code(), without.toString());
        assertTrue(without.err().contains("node 'warp' (GridSample): unknown op"), without.err());
        Cli check = Cli.run("check", model.toString(), "--plugins", jar);
        assertEquals(0, check.code(), check.toString());

        // the engine (from the joint plan), Tessel's reference interpreter and ONNX Runtime agree
        Cli compare = Cli.run("compare", model.toString(), "--plugins", jar, "--strategy", "joint");
        assertEquals(0, compare.code(), compare.toString());
        assertTrue(compare.out().contains("onnxruntime vs reference") && compare.out().strip().endsWith("PASS"), compare.out());

        // the search prices the plugin's GPU kernel and takes it over the host round trip
        Path engine = dir.resolve("st.engine");
        Cli build = Cli.run("build", model.toString(), "--cpu", "--strategy", "joint", "--plugins", jar, "--save-engine", engine.toString());
        assertEquals(0, build.code(), build.toString());
        Cli inspect = Cli.run("inspect", engine.toString(), "--plugins", jar);
        assertEquals(0, inspect.code(), inspect.toString());
        assertTrue(inspect.out().lines().anyMatch(l -> l.contains("warp") && l.contains("example.gridsample.cuda")), inspect.out());
        Cli run = Cli.run("run", engine.toString(), "--plugins", jar, "--iterations", "3");
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.out().contains("p50_ms="), run.out());
        Cli runWithout = Cli.run("run", engine.toString());
        assertEquals(2, runWithout.code());
        assertTrue(runWithout.err().contains("GridSample") && runWithout.err().strip().lines().count() == 1, runWithout.err());

        // forced onto the host, the plan says so and is predicted slower
        Cli free = Cli.run("search", model.toString(), "--plugins", jar, "--target", "h200-measured");
        Cli host = Cli.run("search", model.toString(), "--plugins", jar, "--target", "h200-measured", "--force", "warp=cpu.reference", "--show-plan");
        assertEquals(0, host.code(), host.toString());
        assertTrue(host.out().lines().anyMatch(l -> l.startsWith("warp ") && l.contains("cpu.reference")), host.out());
        assertTrue(predictedMs(host.out()) > predictedMs(free.out()), free.out() + host.out());
    }

    static double predictedMs(String out) {
        return Double.parseDouble(out.lines().filter(l -> l.startsWith("predicted_ms=")).findFirst().orElseThrow().replaceAll("predicted_ms=([0-9.]+).*", "$1"));
    }
}
