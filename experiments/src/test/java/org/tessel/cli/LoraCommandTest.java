package org.tessel.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.passes.lora.LoraAdapter;
import org.tessel.runtime.llm.DecoderRunner;

/** `tessel generate --lora/--adapter` and `tessel serve-bench --lora/--lora-mix`: outputs, per-adapter counts and refusals. */
class LoraCommandTest {
    private static String output(CliRun r) {
        Matcher m = Pattern.compile("(?m)^output: ([0-9,]+) \\((\\d+) tokens\\)$").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        return m.group(1);
    }

    private static final String[] GEN = {"generate", "zoo:llama-tiny", "--prompt-tokens", "11,200,37,5", "--max-new-tokens", "8"};

    @Test void generateThroughAnAdapterFolderDiffersFromTheBaseAndRepeats(@TempDir Path dir) throws Exception {
        DecoderRunner r = new DecoderRunner("llama-tiny", Zoo.decoder("llama-tiny", 0), ZooOptions.DEFAULT_SEED);
        LoraAdapter.random("m", r.graph(new DecoderShape(1, 1, 0)), List.of("q", "k", "v", "o"), 4, 4, 1).save(dir.resolve("m"));
        String base = output(CliRun.of(GEN));
        CliRun a = CliRun.of(concat(GEN, "--lora", "m=" + dir.resolve("m"), "--adapter", "m"));
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().contains("lora: m (id 1, rank 4, alpha 4.0, 8 layers, " + dir.resolve("m").resolve(LoraAdapter.WEIGHTS) + ")"), a.out());
        assertTrue(a.out().contains("this request: m"), a.out());
        assertNotEquals(base, output(a));
        assertEquals(output(a), output(CliRun.of(concat(GEN, "--lora", "m=" + dir.resolve("m"), "--adapter", "m"))), "deterministic");
        // the folder holds the seeded random adapter random:4:1 makes, so both generate the same
        assertEquals(output(a), output(CliRun.of(concat(GEN, "--lora", "m=random:4:1", "--lora", "other=random:2:9", "--adapter", "m"))));
        // loaded but not asked for: the base model
        assertEquals(base, output(CliRun.of(concat(GEN, "--lora", "m=random:4:1"))));
    }

    @Test void badAdapterFlagsAreOneLineNamingWhatIsWrong(@TempDir Path dir) {
        assertEquals("tessel generate: request generate: adapter 'zz' is not loaded (loaded: m)",
                CliRun.of(concat(GEN, "--lora", "m=random:4", "--adapter", "zz")).err().strip());
        assertEquals("tessel generate: --adapter m names an adapter of --lora NAME=FOLDER: add one", CliRun.of(concat(GEN, "--adapter", "m")).err().strip());
        assertEquals("tessel generate: adapter m: " + dir.resolve("none") + " is not a folder (expected one holding adapter_config.json and adapter_model.safetensors)",
                CliRun.of(concat(GEN, "--lora", "m=" + dir.resolve("none"))).err().strip());
        assertEquals("tessel generate: --lora expects NAME=FOLDER or NAME=random[:RANK[:SEED]], got 'm'",
                CliRun.of(concat(GEN, "--lora", "m")).err().strip());
        assertEquals("tessel serve-bench: --lora-mix spreads requests over the --lora adapters: add --lora NAME=FOLDER",
                CliRun.of("serve-bench", "zoo:llama-tiny", "--lora-mix").err().strip());
    }

    @Test void serveBenchMixesAdaptersAndComparesWithTheBase() {
        CliRun r = CliRun.of("serve-bench", "zoo:llama-tiny", "--requests", "8", "--prompt-len", "2-8", "--output-len", "2-6", "--warmup", "0", "--repeat", "1",
                "--lora", "a=random:4:1", "--lora", "b=random:8:2", "--lora-mix");
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("requests per adapter \\(in-flight\\): a (\\d+), b (\\d+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertEquals(8, Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2)));
        assertTrue(Integer.parseInt(m.group(1)) > 0 && Integer.parseInt(m.group(2)) > 0, "seed 1 draws both: " + r.out());
        assertTrue(r.out().matches("(?s).*in-flight with mixed adapters: [0-9.]+ tok/s over \\d+ steps; base model alone: [0-9.]+ tok/s over \\d+ steps \\([0-9.]+x of the base.*"), r.out());
        assertTrue(r.out().contains("outputs identical for 8 of 8 requests"), r.out());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
