package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.api.select.Algorithm;
import org.tessel.api.select.AlgorithmSelector;
import org.tessel.api.select.NodeView;
import org.tessel.cost.Precision;
import org.tessel.ir.Graph;
import org.tessel.ir.Value;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.DecoderShape;
import org.tessel.ir.zoo.Zoo;
import org.tessel.passes.PassManager;
import org.tessel.passes.StandardPipelines;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.engine.Engine;
import org.tessel.runtime.gpu.GpuTestSupport;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.quant.CalibrationText;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;
import org.tessel.search.EnginePlans;
import org.tessel.search.SearchOptions;
import org.tessel.search.SearchProblem;
import org.tessel.search.Searcher;
import org.tessel.tactics.plan.PlanApplier;

/**
 * llama-tiny's quantized decode-step and prefill graphs ({@link DecoderRunner#graph}, quantized by
 * {@link LlmQuantization}: weight-only int8:64 and int4:32, and SmoothQuant W8A8; llama-tiny's hidden size 64 is below
 * int8's default group of 128, which would leave every projection floating) as FP32 GPU engines on the emulated
 * device against the CPU engine's logits. The emulated device has no cuBLAS/cuDNN and no tensor-core PTX, so the
 * plan is the rule strategy's over the tactics it can run (a selector drops the library ones: the float MatMuls
 * land on tessel.matmul); the quantized MatMuls take their planned tactic: the GEMV for the decode step, the GEMM
 * for the prefill, the W8A8 GEMM for SmoothQuant.
 */
class QuantizedDecoderEmulatedTest {
    static final long SEED = 42;
    static CudaContext ctx;

    @BeforeAll static void open() { ctx = CudaContext.emulated(2, 1L << 30); }

    @AfterAll static void close() { ctx.close(); }

    /**
     * Keeps the candidates the emulated device runs: no cuBLASLt, cuDNN or host fallback, and no fused attention (the
     * tensor-core one is PTX).
     */
    static final class EmulatedDeviceTactics implements AlgorithmSelector {
        static boolean runs(String tactic) {
            return !GpuTactics.usesNvidiaLibraries(tactic) && !tactic.startsWith("tessel.attention.") && !tactic.equals("cpu.reference");
        }

        @Override public List<Algorithm> selectAlgorithms(NodeView node, List<Algorithm> candidates) {
            return candidates.stream().filter(a -> runs(a.tactic())).toList();
        }
    }

    static LlmQuantization quantization(String spec, DecoderConfig c) {
        QuantizationSpec s = spec.equals("smoothquant") ? QuantizationSpec.parse(null, false, "") : QuantizationSpec.parse(spec, false, null);
        return s.smoothQuant() ? LlmQuantization.calibrate("llama-tiny", c, SEED, s, CalibrationText.sequences(CalibrationText.DEFAULT_TEXT, c.vocab(), 2, 32, 0))
                : LlmQuantization.uncalibrated(s);
    }

    /** Token ids, an all-ones mask, positions after the cache, and a random cache of {@code past} tokens. */
    static Map<String, Tensor> inputs(Graph g, DecoderShape shape, DecoderConfig c) {
        SplittableRandom r = new SplittableRandom(7);
        Map<String, Tensor> in = new LinkedHashMap<>();
        int b = shape.batch(), n = shape.newTokens(), total = shape.pastLength() + n;
        for (Value v : g.inputs()) {
            String name = v.name();
            if (name.equals("input_ids")) {
                long[] ids = new long[b * n];
                for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(c.vocab());
                in.put(name, Tensor.ofLongs(DType.I64, Shape.of(b, n), ids));
            } else if (name.equals("attention_mask")) {
                long[] mask = new long[b * total];
                java.util.Arrays.fill(mask, 1);
                in.put(name, Tensor.ofLongs(DType.I64, Shape.of(b, total), mask));
            } else if (name.equals("position_ids")) {
                long[] pos = new long[b * n];
                for (int i = 0; i < pos.length; i++) pos[i] = shape.pastLength() + i % n;
                in.put(name, Tensor.ofLongs(DType.I64, Shape.of(b, n), pos));
            } else {
                in.put(name, GpuTestSupport.random(r, DType.F32, v.type().shape().dims()));
            }
        }
        return in;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"int8:64,decode", "int8:64,prefill", "int4:32,decode", "int4:32,prefill", "smoothquant,decode", "smoothquant,prefill"})
    void quantizedLlamaTinyOnTheEmulatedDeviceMatchesTheCpuEngine(String spec, String step) {
        DecoderConfig c = Zoo.decoder("llama-tiny", 0);
        DecoderRunner runner = new DecoderRunner("llama-tiny", c, SEED, quantization(spec, c));
        DecoderShape shape = step.equals("decode") ? new DecoderShape(1, 1, 8) : new DecoderShape(1, 32, 0); // 32 rows: past the GEMV's 16
        Graph g = runner.graph(shape);
        Map<String, Tensor> in = inputs(g, shape, c);

        Graph cpu = g.copy();
        new PassManager().run(cpu, StandardPipelines.resolve("standard"));
        Tensor want = Engine.buildCpu(cpu).createContext().run(in).get("logits");

        SearchOptions o = SearchOptions.defaults().withTarget("h200-measured").withPrecisions(EnumSet.of(Precision.FP32)).withSelectors(List.of(new EmulatedDeviceTactics()));
        SearchProblem problem = Searcher.problem(Searcher.prepare(g), o);
        PlanApplier.Applied a = EnginePlans.complete(problem, Searcher.run(problem, "rule", o));
        String quantized = spec.equals("smoothquant") ? GpuTactics.GEMM_W8A8 : step.equals("decode") ? GpuTactics.GEMV_WEIGHT_ONLY : GpuTactics.GEMM_WEIGHT_ONLY;
        try (GpuEngine e = GpuEngine.build(a.graph(), a.plan(), GpuEngine.Precision.FP32, ctx, GpuEngine.Options.FIXED, 1); GpuExecutionContext x = e.createExecutionContext()) {
            // by catalogue id: the weight-only GEMV's layers name their form as the variant
            Map<String, Long> tactics = e.layerPlans().stream().collect(java.util.stream.Collectors.groupingBy(l -> GpuTactics.catalogueId(l.tactic()), java.util.TreeMap::new,
                    java.util.stream.Collectors.counting()));
            // a quantized projection's layer: the node itself, or a fused group around it (a prologue, the residual Add)
            java.util.function.Predicate<org.tessel.ir.Node> q = n -> n.opName().startsWith("tessel.") && n.opName().endsWith("MatMul");
            long nodes = a.graph().nodes().stream().filter(n -> q.test(n) || n.body() != null && n.body().nodes().stream().anyMatch(q)).count();
            assertTrue(nodes >= 6L * c.layers() && tactics.getOrDefault(quantized, 0L) == nodes, "all " + nodes + " quantized projections run " + quantized + ": " + tactics);
            assertTrue(tactics.containsKey(GpuTactics.MATMUL), "the float LM head runs tessel.matmul: " + tactics);
            // FP32 throughout, only the sums' order differs (attention, norms, tiles): measured relative L2 <= 6e-7
            // (SmoothQuant's activation codes came out the same on both sides, its logits within 1e-7)
            GpuTestSupport.assertClose("llama-tiny " + spec + " " + step + " logits (emulated)", x.run(in).get("logits"), want, 1e-5);
        }
    }
}
