package org.tessel.examples.fastrelu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Relu plugin from its jar: listed with its kernel; in the joint search it takes a standalone
 * FP16 Relu, loses to fusion after a convolution (forcing it costs predicted time), and the CPU
 * engine that runs its plan (emulated) matches the reference interpreter.
 */
class FastReluCliIT {
    @TempDir Path dir;

    static double predictedMs(String out) {
        return Double.parseDouble(out.lines().filter(l -> l.startsWith("predicted_ms=")).findFirst().orElseThrow().replaceAll("predicted_ms=([0-9.]+).*", "$1"));
    }

    @Test void winsAloneLosesToFusionAndRuns() throws Exception {
        String jar = Cli.jar().toString();
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.tessel.examples.fastrelu.FastReluTactics"));
        Cli list = Cli.run("plugins", "--plugins", jar);
        assertEquals(0, list.code(), list.toString());
        assertTrue(list.out().contains("tactics:   example.relu.half8") && list.out().contains("gpu kernel: example.relu.half8 -> relu8.cu: f16/any, bf16/any"), list.out());

        Path alone = Files.writeString(dir.resolve("pool-relu.tir"), Models.POOL_RELU), conv = Files.writeString(dir.resolve("conv-relu.tir"), Models.CONV_RELU);
        Cli wins = Cli.run("search", alone.toString(), "--plugins", jar, "--precisions", "fp32,fp16", "--precision", "Relu=fp16", "--show-plan");
        assertEquals(0, wins.code(), wins.toString());
        assertTrue(wins.out().lines().anyMatch(l -> l.startsWith("relu ") && l.contains("example.relu.half8") && l.contains("fp16")), wins.out());
        Cli without = Cli.run("search", alone.toString(), "--precisions", "fp32,fp16", "--precision", "Relu=fp16");
        assertTrue(predictedMs(wins.out()) < predictedMs(without.out()), "the plugin makes the plan cheaper: " + wins.out() + without.out());

        Cli loses = Cli.run("search", conv.toString(), "--plugins", jar, "--precisions", "fp32,fp16", "--show-plan");
        assertEquals(0, loses.code(), loses.toString());
        assertTrue(!loses.out().contains("example.relu.half8") && loses.out().contains("group conv+1 (conv_bias_act): conv, relu"), loses.out());
        Cli forced = Cli.run("search", conv.toString(), "--plugins", jar, "--precisions", "fp32,fp16", "--force", "relu=example.relu.half8");
        assertEquals(0, forced.code(), forced.toString());
        assertTrue(predictedMs(forced.out()) > predictedMs(loses.out()), loses.out() + forced.out());

        Path engine = dir.resolve("pool-relu.engine");
        Cli build = Cli.run("build", alone.toString(), "--plugins", jar, "--cpu", "--strategy", "joint", "--fp16", "--precision", "Relu=fp16",
                "--save-engine", engine.toString());
        assertEquals(0, build.code(), build.toString());
        Cli compare = Cli.run("compare", engine.toString(), "--model", alone.toString(), "--plugins", jar, "--no-onnxruntime", "--rtol", "1e-2", "--atol", "1e-2");
        assertEquals(0, compare.code(), compare.toString());
        assertTrue(compare.out().strip().endsWith("PASS"), compare.out());
        Cli inspect = Cli.run("inspect", engine.toString(), "--plugins", jar);
        assertTrue(inspect.out().lines().anyMatch(l -> l.contains("relu") && l.contains("example.relu.half8")), inspect.out());
    }
}
