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
import org.tessel.passes.memory.LivenessMemoryPlanner;

/**
 * What {@code tessel optimize} does to a 200,000-node chain ({@link SyntheticGraphs#chain}): the
 * memory plan of the graph as loaded, the standard pipeline, the plan of the result. Passes and
 * planners must stay near-linear: this took minutes when the planner and node removal were
 * quadratic. Run:
 * {@code mvn -q -DskipTests package -pl benchmarks -am && java -cp 'benchmarks/target/lib/*:benchmarks/target/*.jar' org.openjdk.jmh.Main ChainOptimize}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Xss16m", "-Xmx4g", "--sun-misc-unsafe-memory-access=allow"})
public class ChainOptimizeBenchmark {
    @Param({"200000"}) int nodes;
    private Graph template;
    private Graph graph;

    @Setup(Level.Trial) public void build() { template = SyntheticGraphs.chain(nodes); }

    @Setup(Level.Invocation) public void copy() { graph = template.copy(); }

    @Benchmark public long optimize() {
        long before = new LivenessMemoryPlanner().plan(graph).arenaBytes();
        new PassManager().run(graph, StandardPipelines.STANDARD);
        return before + new LivenessMemoryPlanner().plan(graph).arenaBytes();
    }

    /** Plain timing without JMH, per pass: {@code ChainOptimizeBenchmark [nodes]}. */
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        long t0 = System.nanoTime();
        Graph g = SyntheticGraphs.chain(n);
        System.out.printf("build %d nodes: %.0f ms%n", g.nodes().size(), (System.nanoTime() - t0) / 1e6);
        t0 = System.nanoTime();
        Graph copy = g.copy();
        System.out.printf("copy: %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        t0 = System.nanoTime();
        new LivenessMemoryPlanner().plan(copy);
        System.out.printf("memory plan before: %.0f ms%n", (System.nanoTime() - t0) / 1e6);
        t0 = System.nanoTime();
        PassManager.Report r = new PassManager().run(copy, StandardPipelines.STANDARD);
        System.out.printf("standard pipeline: %d -> %d nodes in %.0f ms%n", n, copy.nodes().size(), (System.nanoTime() - t0) / 1e6);
        for (PassManager.PassRun pr : r.runs()) System.out.printf("  %-22s %10.1f ms%n", pr.pass(), pr.nanos() / 1e6);
        t0 = System.nanoTime();
        new LivenessMemoryPlanner().plan(copy);
        System.out.printf("memory plan after: %.0f ms%n", (System.nanoTime() - t0) / 1e6);
    }
}
