package org.tessel.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.search.Assignment;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.search.solver.ScoreSpeed;

/**
 * Incremental score calculation speed of the joint search's constraint streams: one operation is
 * one local-search move (change a random node's choice or a random candidate's fuse flag, score,
 * undo, score), from the greedy plan of the model, as {@link ScoreSpeed} does it.
 *
 * <pre>
 * mvn -q -DskipTests package -pl benchmarks -am
 * java -cp "benchmarks/target/classes:benchmarks/target/lib/*" org.openjdk.jmh.Main ScoreCalculation
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "-Xss16m")
public class ScoreCalculationBenchmark {
    @Param({"resnet50"}) public String model;
    @Param({"h100"}) public String target;

    private ScoreSpeed speed;

    @Setup public void setUp() {
        SearchOptions o = SearchOptions.defaults().withTarget(target);
        SearchProblem p = Searcher.problem(Searcher.prepare(Zoo.build(model, ZooOptions.defaults())), o);
        Assignment start = Searcher.run(p, "greedy", o).assignment();
        speed = new ScoreSpeed(p, start, 42);
    }

    @Benchmark public long move() { return speed.move(); }

    @TearDown public void tearDown() { speed.close(); }
}
