package org.tessel.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.tessel.ir.Graph;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;

/**
 * The standard pipeline on a 10,000-node synthetic graph (target: under one second). Run:
 * {@code mvn -q -DskipTests package -pl benchmarks -am && java -cp 'benchmarks/target/lib/*:benchmarks/target/*.jar' org.openjdk.jmh.Main PassPipeline}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"-Xss16m", "--sun-misc-unsafe-memory-access=allow"})
public class PassPipelineBenchmark {
    @Param({"10000"}) int nodes;
    private Graph template;
    private Graph graph;

    @Setup(Level.Trial) public void build() { template = SyntheticGraphs.residualChain(nodes, 1); }

    @Setup(Level.Invocation) public void copy() { graph = template.copy(); }

    @Benchmark public int standardPipeline() {
        new PassManager().run(graph, StandardPipelines.STANDARD);
        return graph.nodes().size();
    }

    /** Plain timing without JMH, for a quick look: prints per-pass times. */
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        Graph t = SyntheticGraphs.residualChain(n, 1);
        for (int rep = 0; rep < 3; rep++) {
            Graph g = t.copy();
            long t0 = System.nanoTime();
            PassManager.Report r = new PassManager().run(g, StandardPipelines.STANDARD);
            long dt = System.nanoTime() - t0;
            System.out.printf("run %d: %d -> %d nodes in %.0f ms%n", rep, t.nodes().size(), g.nodes().size(), dt / 1e6);
            if (rep == 2) for (PassManager.PassRun pr : r.runs()) System.out.printf("  %-20s %8.1f ms%n", pr.pass(), pr.nanos() / 1e6);
        }
    }
}
