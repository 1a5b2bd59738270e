package org.tessel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.tessel.ir.Graph;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.engine.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Builds an engine from a model and saves it. */
@Command(name = "build", description = "Optimize a model and save an engine; ends with 'engine: FILE, N layers, build S s'. Without a GPU this builds a CPU engine.")
final class BuildCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--save-engine", required = true, description = "Engine file to write.") Path out;
    @Option(names = "--pipeline", defaultValue = "standard", description = "Optimization pipeline (default ${DEFAULT-VALUE}).") String pipeline;
    @Option(names = "--fp16", description = "Allow FP16 layers (GPU engines only).") boolean fp16;
    @Option(names = "--timing-cache", description = "Timing cache file for tactic timing (GPU engines only).") Path timingCache;
    @Option(names = "--target", description = "Target device for the cost model (GPU engines only), e.g. h100.") String target;

    @Override public Integer call() throws Exception {
        // The GPU builder (issue 5) is not wired into this command yet; say so rather than ignore the options.
        if (fp16) throw new IllegalArgumentException("--fp16 needs the GPU backend, which this build of Tessel cannot use yet; build without --fp16 for a CPU (FP32) engine");
        if (timingCache != null || target != null)
            System.out.println("note: --timing-cache and --target apply to GPU engines; this is a CPU engine, so they are not used");
        long t0 = System.nanoTime();
        Graph g = model.load();
        new PassManager().run(g, StandardPipelines.resolve(pipeline));
        Engine e = Engine.buildCpu(g);
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        e.save(out);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("backend: cpu (tactic %s for every layer), activation arena %.2f MiB, file %.2f MiB%n", Engine.CPU_REFERENCE,
                e.arenaBytes() / 1048576.0, Files.size(out) / 1048576.0);
        System.out.printf("engine: %s, %d layers, build %.2f s%n", out, e.layers().size(), s);
        return 0;
    }
}
