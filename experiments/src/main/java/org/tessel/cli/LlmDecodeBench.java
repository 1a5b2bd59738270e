package org.tessel.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tessel.ir.zoo.DecoderConfig;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.Backend;
import org.tessel.runtime.cuda.CudaContext;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.gpu.engine.GpuEngine;
import org.tessel.runtime.gpu.engine.GpuExecutionContext;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.GpuDecoderRunner;
import org.tessel.runtime.llm.GpuPagedKvCache;
import org.tessel.runtime.llm.Sampler;
import org.tessel.runtime.llm.quant.LlmQuantization;
import org.tessel.runtime.llm.quant.QuantizationSpec;

/**
 * LLM decoding on the GPU (the `llm` stage of scripts/gpu-bench.sh): a zoo decoder (llama-1b, TinyLlama-1.1B's shape,
 * seeded random weights) at FP16 and batch {@code --batch} (default 1) on {@link GpuDecoderRunner} (joint-search plans, tessel.attention.paged
 * over the device KV cache, decode steps replayed as CUDA graphs): each row a prompt of {@code --prompt} random tokens, all in one
 * prefill step, then {@code --new} greedy decode steps of every row (tokens/s counts every row's). Untimed passes ({@code --warmup}, default 4) build the engines
 * (the prefill bucket and the decode bucket) and let the JIT compile the host's side of a step; the next pass, on the same cache (the sequence freed, as a server keeps its KV cache and the
 * contexts bound to it), is timed on the host clock around each step (inputs uploaded, the greedy token picked on the
 * device by {@link GpuDecoderRunner#stepGreedy} and downloaded: what a caller sees), and the decode step's CUDA graph alone
 * between CUDA events, so the host's share of a token shows. Prints tokens/s of the decode, the per-token latency (p50, p90), and the
 * HBM bound per token: the decode engine's weight bytes (less the embedding table, of which a step reads one row)
 * plus the K and V bytes one step reads (at the mean context of the decode), over the device-to-device copy
 * bandwidth measured here (read + write bytes over time), as a percentage of the measured latency. The line {@code LLM|tessel|...} is what the stage's table reads.
 */
public final class LlmDecodeBench {
    private LlmDecodeBench() {}

    public static void main(String[] args) {
        String model = "llama-1b";
        int prompt = 128, newTokens = 128, blockSize = 16, profileTop = 0, warmups = 4, batch = 1;
        String weights = null, prefillForm = null;
        for (int i = 0; i + 1 < args.length; i += 2)
            switch (args[i]) {
                case "--model" -> model = args[i + 1];
                case "--prompt" -> prompt = Integer.parseInt(args[i + 1]);
                case "--new" -> newTokens = Integer.parseInt(args[i + 1]);
                case "--block-size" -> blockSize = Integer.parseInt(args[i + 1]);
                case "--profile" -> profileTop = Integer.parseInt(args[i + 1]);
                case "--weights" -> weights = args[i + 1];
                case "--warmup" -> warmups = Integer.parseInt(args[i + 1]);
                case "--batch" -> batch = Integer.parseInt(args[i + 1]);
                case "--prefill-form" -> prefillForm = args[i + 1];
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--model NAME --batch ROWS --prefill-form mma|tiled --prompt N --new N --block-size N --profile TOP --weights int8|int4[:GROUP] --warmup PASSES)");
            }
        if (batch < 1) throw new IllegalArgumentException("--batch takes at least 1 row, got " + batch);
        Backend b = Backend.detect();
        if (!(b instanceof Backend.Gpu gpu)) {
            System.out.println("LlmDecodeBench needs a CUDA GPU: " + b.describe());
            System.exit(2);
            return;
        }
        CudaContext ctx = gpu.context();
        DecoderConfig c = Zoo.decoder(model, 0);
        System.out.println("device: " + b.describe());
        System.out.printf("model: %s (%d layers, width %d, %d heads / %d KV heads, head %d, vocab %d), FP16%s, batch %d, prompt %d, decode %d tokens, KV blocks of %d%n",
                model, c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.headDim(), c.vocab(), weights == null ? "" : " activations, weights " + weights, batch, prompt, newTokens, blockSize);
        // each row its own random prompt of the same length, so the rows' steps are one bucket
        long[][] ids = new long[batch][prompt];
        SplittableRandom r = new SplittableRandom(14);
        for (long[] row : ids) for (int i = 0; i < prompt; i++) row[i] = r.nextInt(c.vocab());
        int blocks = 2 * batch * ((prompt + newTokens + blockSize - 1) / blockSize);
        long t0 = System.nanoTime();
        QuantizationSpec spec = QuantizationSpec.parse(weights, false, null);
        try (GpuDecoderRunner fp = new GpuDecoderRunner(model, c, ZooOptions.DEFAULT_SEED, ctx, GpuEngine.Precision.FP16, DecoderModels.pagedPlanner(CostTargets.forBackend(gpu), org.tessel.cost.Precision.FP16, DecoderModels.checkPrefillForm(prefillForm, model, true, false, null)), true);
             GpuDecoderRunner runner = spec.isFp32() ? fp : fp.withQuantization(LlmQuantization.uncalibrated(spec))) {
            // one KV cache for both passes, as a server keeps its cache: the timed pass finds its engines bound to it
            GpuPagedKvCache cache = runner.newCache(blockSize, blocks);
            // the first pass builds the engines; the others let the JIT compile the host's side of a step (a server's steady state)
            if (warmups < 1) throw new IllegalArgumentException("--warmup takes at least 1 pass (it builds the engines), got " + warmups);
            Pass warm = null;
            for (int w = 0; w < warmups; w++) warm = pass(runner, cache, ids, newTokens);
            System.out.printf("warm-up: %d passes, engines %d built in %.1f s (planning and building), %.1f s in all%n", warmups, runner.enginesBuilt(), runner.buildNanos() / 1e9, (System.nanoTime() - t0) / 1e9);
            long gc0 = gcMillis(), build0 = runner.buildNanos();
            Pass timed = pass(runner, cache, ids, newTokens);
            aheadPass(runner, cache, ids, newTokens); // untimed: the JIT meets the run-ahead loop
            Ahead aheadRun = aheadPass(runner, cache, ids, newTokens);
            long[][] ahead = aheadRun.tokens();
            double aheadMs = aheadRun.decodeMs();
            // the decode step as the decode ran it: its bound context replaying its last inputs (context up to prompt + new
            // tokens), where attention reads real keys and values, unlike a fresh context's zero-length sequences
            java.util.List<String> atContext = new ArrayList<>();
            for (var shape : runner.engines().keySet()) {
                var bound = shape.decode() ? runner.boundContext(shape) : null;
                if (bound == null || !bound.isCaptured()) continue;
                double[] t = bound.time(10, 100);
                Arrays.sort(t);
                atContext.add(String.format(java.util.Locale.ROOT, "%s: p50 %.3f ms", shape, t[t.length / 2]));
            }
            cache.close();
            long gcMs = gcMillis() - gc0;
            double bindMs = (runner.buildNanos() - build0) / 1e6;
            if (!Arrays.deepEquals(warm.tokens(), timed.tokens())) throw new IllegalStateException("the timed pass generated other tokens than the warm-up pass");
            GpuEngine decode = runner.engines().entrySet().stream().filter(e -> e.getKey().decode()).map(java.util.Map.Entry::getValue).findFirst().orElseThrow();
            double[] ms = timed.decodeMs().clone();
            Arrays.sort(ms);
            double total = Arrays.stream(ms).sum(), p50 = ms[ms.length / 2], p90 = ms[(int) Math.ceil(0.9 * ms.length) - 1];
            double tokensPerSecond = (double) batch * newTokens / (total / 1e3);
            double gbs = copyBandwidthGbs();
            // every weight is read once per token, except the embedding table, of which one row is gathered
            long embedding = 2L * c.vocab() * c.hidden();
            long weightBytes = decode.weightBytes() - (c.tiedHead() ? 0 : embedding);
            double meanContext = prompt + (newTokens + 1) / 2.0;
            double kvBytes = 2.0 * c.layers() * c.kvHeads() * c.headDim() * 2 * meanContext * batch;
            double boundMs = (weightBytes + kvBytes) / (gbs * 1e9) * 1e3;
            System.out.printf("prefill of %d x %d tokens: %.2f ms (%.2f ms of it building, binding or capturing engines); decode: %.1f tokens/s, per step p50 %.3f ms, p90 %.3f ms, mean %.3f ms; %d decode steps (both passes) replayed CUDA graphs%n",
                    batch, prompt, timed.prefillMs(), timed.prefillBindMs(), tokensPerSecond, p50, p90, total / newTokens, runner.graphReplays());
            System.out.printf("HBM bound per step: (%.1f MB weights read + %.2f MB K/V at mean context %.0f) / %.0f GB/s (device-to-device copy) = %.3f ms: %.1f%% of the measured p50%n",
                    weightBytes / 1e6, kvBytes / 1e6, meanContext, gbs, boundMs, 100 * boundMs / p50);
            // what lifts the mean above the median: slow steps and the JVM's collections during the timed pass
            long slow = Arrays.stream(ms).filter(x -> x > 2 * p50).count();
            System.out.printf("decode steps: slowest %.3f ms, %d of %d over twice the p50 (%.1f ms in them); during the timed pass: JVM collections %d ms, engine builds and bindings to its cache %.1f ms%n",
                    ms[ms.length - 1], slow, ms.length, Arrays.stream(ms).filter(x -> x > 2 * p50).sum(), gcMs, bindMs);
            String mode = spec.isFp32() ? "fp16" : "w" + spec.format().bits() + "g" + spec.format().groupSize();
            System.out.printf("LLM|tessel|%s|%s|%d|%d|%d|%.1f|%.3f|%.3f|%.1f%n", model, mode, batch, prompt, newTokens, tokensPerSecond, p50, boundMs, 100 * boundMs / p50);
            // the same decode run ahead of the host: each token fed back on the device, the host reading tokens as they land
            for (int row = 0; row < batch; row++)
                if (!Arrays.equals(Arrays.copyOfRange(timed.tokens()[row], 1, newTokens), Arrays.copyOfRange(ahead[row], 0, newTokens - 1)))
                    throw new IllegalStateException("the decode run ahead of the host generated other tokens than the step-by-step pass (row " + row + ")");
            double aheadPerToken = aheadMs / newTokens, aheadTps = (double) batch * newTokens / (aheadMs / 1e3);
            System.out.printf("decode run ahead of the host (GpuDecoderRunner.decodeGreedy: tokens fed back on the device, the same tokens): %d steps in %.2f ms, %.1f tokens/s, %.3f ms a step: %.1f%% of the HBM bound%n",
                    newTokens, aheadMs, aheadTps, aheadPerToken, 100 * boundMs / aheadPerToken);
            System.out.printf("LLM|tessel-ahead|%s|%s|%d|%d|%d|%.1f|%.3f|%.3f|%.1f%n", model, mode, batch, prompt, newTokens, aheadTps, aheadPerToken, boundMs, 100 * boundMs / aheadPerToken);
            System.out.println("decode plan tactics: " + decode.layerPlans().stream().map(l -> l.tactic()).distinct().sorted().toList());
            // kernels a step launches (views alias buffers and launch nothing), and those of one transformer layer
            List<org.tessel.runtime.engine.LayerPlan> kernels = decode.layerPlans().stream()
                    .filter(l -> !l.tactic().equals("tessel.view") && !l.tactic().equals("tessel.split.view")).toList();
            List<String> layer0 = kernels.stream().filter(l -> l.node().startsWith("model.layers.0.")).map(l -> l.tactic()).toList();
            System.out.printf("decode step kernels: %d in all, %d in layer 0: %s%n", kernels.size(), layer0.size(), layer0);
            stepOnDevice(decode, p50);
            System.out.println("decode step on the device at the decode's own context (the runner's bound context replaying its last step, up to " + (prompt + newTokens) + " tokens): " + atContext);
            printPhases(timed.decodeFrom(), timed.decodeTo(), total, newTokens);
            if (profileTop > 0) profile(decode, profileTop);
        }
    }

    /**
     * The decode step as the device runs it: the engine's captured CUDA graph replayed between CUDA events (on a context of
     * its own, zero token ids and block tables: the same kernels and weight reads as a step), against the step's p50 on
     * the host clock, so the host's share of a token (inputs, logits, sampling) shows apart from the kernels'.
     */
    static void stepOnDevice(GpuEngine decode, double hostP50) {
        double p50 = graphP50(decode);
        System.out.printf("decode step on the device (its CUDA graph replayed, CUDA events, 100 runs): p50 %.3f ms; the host clock's p50 %.3f ms adds %.3f ms a token%n",
                p50, hostP50, hostP50 - p50);
        if (org.tessel.runtime.cuda.ffm.CudaLaunch.available()) {
            // the same engine captured with every kernel launched as before programmatic dependent launch, same run
            double plain = org.tessel.runtime.cuda.ffm.CudaLaunch.withoutProgrammaticLaunches(() -> graphP50(decode));
            System.out.printf("  programmatic dependent launch: %d of the engine's kernels (compiled programs) wait for the kernel before them; the step without it: p50 %.3f ms (%.3f ms saved)%n",
                    programmaticKernels(decode), plain, plain - p50);
        }
    }

    /**
     * The timed pass's host time per decode step by phase (means over its decode steps): the runner preparing inputs,
     * the context's upload, launch, wait (the device's work is in it) and output conversion, the runner splitting the
     * logits, and what the bench's loop adds (sampling, the host clock).
     */
    static void printPhases(GpuDecoderRunner.StepPhases a, GpuDecoderRunner.StepPhases b, double decodeMsTotal, int newTokens) {
        long n = b.steps() - a.steps();
        if (n <= 0) return;
        var r = b.run().minus(a.run());
        double prep = (b.prepNanos() - a.prepNanos()) / 1e3 / n, post = (b.postNanos() - a.postNanos()) / 1e3 / n;
        double up = r.uploadNanos() / 1e3 / n, launch = r.launchNanos() / 1e3 / n, wait = r.waitNanos() / 1e3 / n, out = r.outputNanos() / 1e3 / n;
        System.out.printf("host time per decode step (us, means of the timed pass's %d): runner inputs %.1f, upload %.1f, graph launch %.1f, wait for the device %.1f, "
                + "outputs %.1f, logits split %.1f; the decode loop's mean step %.1f%n", n, prep, up, launch, wait, out, post, decodeMsTotal * 1e3 / newTokens);
    }

    /** The p50 of the engine's captured CUDA graph on a context of its own, CUDA events around each of 100 replays. */
    static double graphP50(GpuEngine decode) {
        try (GpuExecutionContext c = decode.createExecutionContext()) {
            c.captureGraph();
            double[] ms = c.time(10, 100);
            Arrays.sort(ms);
            return ms[ms.length / 2];
        }
    }

    /** Kernels of the engine's compiler that launch with programmatic stream serialization. */
    static int programmaticKernels(GpuEngine decode) {
        return decode.kernels().programmaticKernels().size();
    }

    /**
     * The decode engine's layers timed one by one ({@link LayerProfiler}, on a context of its own: zero token ids and block
     * tables), summed per tactic, and the {@code top} slowest layers. Each layer repeats in a graph of its own, so weights that
     * fit in L2 read faster than in a step: a ranking, not a step's split.
     */
    static void profile(GpuEngine decode, int top) {
        try (GpuExecutionContext c = decode.createExecutionContext()) {
            List<GpuExecutionContext.LayerTime> times = c.profileLayers(2, 20);
            double sum = times.stream().mapToDouble(GpuExecutionContext.LayerTime::medianMs).sum();
            System.out.printf("decode engine profile: %d layers, %.3f ms summed%n", times.size(), sum);
            java.util.Map<String, double[]> byTactic = new java.util.TreeMap<>();
            for (GpuExecutionContext.LayerTime t : times) {
                double[] a = byTactic.computeIfAbsent(t.plan().tactic() + " " + t.plan().precision(), k -> new double[2]);
                a[0] += t.medianMs();
                a[1]++;
            }
            byTactic.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                    .forEach(e -> System.out.printf("  tactic %-36s %4.0f layers %8.3f ms%n", e.getKey(), e.getValue()[1], e.getValue()[0]));
            java.util.function.Consumer<GpuExecutionContext.LayerTime> line =
                    t -> System.out.printf("  layer %-40s %-18s %-30s %-5s %8.4f ms%n", t.plan().node(), t.op(), t.plan().tactic(), t.plan().precision(), t.medianMs());
            times.stream().sorted((a, b) -> Double.compare(b.medianMs(), a.medianMs())).limit(top).forEach(line);
            // the first decoder layer's kernels in step order (views left out): what one layer's step is made of
            System.out.println("decode engine profile, the first decoder layer in step order:");
            times.stream().filter(t -> t.plan().node().contains("layers.0.") && !t.plan().tactic().endsWith(".view")).forEach(line);
        }
    }

    /** Milliseconds the JVM's collectors have spent so far (all collectors, as their beans count them). */
    static long gcMillis() {
        return java.lang.management.ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(b -> Math.max(0, b.getCollectionTime())).sum();
    }

    /** One generation on a fresh cache: the prefill time, each decode step's time (ms, host clock) and the tokens. */
    record Pass(double prefillMs, double prefillBindMs, double[] decodeMs, long[][] tokens, GpuDecoderRunner.StepPhases decodeFrom, GpuDecoderRunner.StepPhases decodeTo) {}

    /** The rows of a step: row i is sequence bench-i feeding {@code tokens[i]}. */
    static List<DecoderRunner.Row> rows(long[][] tokens) {
        List<DecoderRunner.Row> rows = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) rows.add(new DecoderRunner.Row("bench-" + i, tokens[i]));
        return rows;
    }

    /** Each row's token {@code k} of {@code out}, as a step's one-token feeds. */
    static long[][] column(long[][] out, int k) {
        long[][] feed = new long[out.length][];
        for (int i = 0; i < out.length; i++) feed[i] = new long[] {out[i][k]};
        return feed;
    }

    static Pass pass(GpuDecoderRunner runner, GpuPagedKvCache cache, long[][] prompts, int newTokens) {
        int batch = prompts.length;
        try {
            long[][] out = new long[batch][newTokens];
            double[] ms = new double[newTokens];
            long t = System.nanoTime(), built = runner.buildNanos();
            List<float[]> logits = runner.step(rows(prompts), cache);
            double prefill = (System.nanoTime() - t) / 1e6, prefillBind = (runner.buildNanos() - built) / 1e6;
            GpuDecoderRunner.StepPhases from = runner.stepPhases(); // the decode steps' phases, the prefill's left out
            // the prefill's tokens from its logits on the host; each decode step's greedy tokens picked on the device
            for (int i = 0; i < batch; i++) out[i][0] = Sampler.greedy().next(logits.get(i));
            for (int k = 1; k < newTokens; k++) {
                t = System.nanoTime();
                long[] next = runner.stepGreedy(rows(column(out, k - 1)), cache);
                ms[k - 1] = (System.nanoTime() - t) / 1e6;
                for (int i = 0; i < batch; i++) out[i][k] = next[i];
            }
            // the prefill gave token 1 and newTokens - 1 decode steps the rest; one more step (for the token after) makes newTokens decode steps timed
            t = System.nanoTime();
            runner.stepGreedy(rows(column(out, newTokens - 1)), cache);
            ms[newTokens - 1] = (System.nanoTime() - t) / 1e6;
            return new Pass(prefill, prefillBind, ms, out, from, runner.stepPhases());
        } finally {
            // the sequences' blocks back to the free list; the cache and the contexts bound to it stay
            for (int i = 0; i < batch; i++) cache.free("bench-" + i);
        }
    }

    /** A run-ahead decode's tokens and its time on the host clock (the prefill left out), ms. */
    record Ahead(long[][] tokens, double decodeMs) {}

    /**
     * The prefill (untimed) and then {@code newTokens} decode steps run ahead of the host ({@link GpuDecoderRunner#decodeGreedy}),
     * whose tokens it returns: the prefill's token is fed first, so they are the step-by-step pass's tokens 1.. and one more.
     */
    static Ahead aheadPass(GpuDecoderRunner runner, GpuPagedKvCache cache, long[][] prompts, int newTokens) {
        int batch = prompts.length;
        try {
            List<float[]> logits = runner.step(rows(prompts), cache);
            long[][] first = new long[batch][1];
            for (int i = 0; i < batch; i++) first[i][0] = Sampler.greedy().next(logits.get(i));
            long t0 = System.nanoTime();
            long[][] tokens = runner.decodeGreedy(rows(first), newTokens, cache);
            return new Ahead(tokens, (System.nanoTime() - t0) / 1e6);
        } finally {
            for (int i = 0; i < batch; i++) cache.free("bench-" + i);
        }
    }

    /** Device-to-device copy bandwidth (GB/s, bytes read + written), the median of 20 copies of 512 MiB. */
    static double copyBandwidthGbs() {
        long bytes = 512L << 20;
        List<Double> gbs = new ArrayList<>();
        try (DeviceBuffer a = DeviceBuffer.allocate(bytes); DeviceBuffer d = DeviceBuffer.allocate(bytes); CudaStream s = CudaStream.create();
             CudaEvent start = new CudaEvent(); CudaEvent end = new CudaEvent()) {
            a.fill((byte) 1);
            for (int i = 0; i < 23; i++) {
                start.record(s);
                d.copyFromAsync(a, s);
                end.record(s);
                end.synchronize();
                if (i >= 3) gbs.add(2.0 * bytes / (end.elapsedSince(start) / 1e3) / 1e9);
            }
        }
        gbs.sort(null);
        return gbs.get(gbs.size() / 2);
    }
}
