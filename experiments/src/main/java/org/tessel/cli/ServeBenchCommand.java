package org.tessel.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.tessel.runtime.llm.BatchScheduler;
import org.tessel.runtime.llm.CpuKvOffload;
import org.tessel.runtime.llm.GpuKvOffload;
import org.tessel.runtime.llm.PagedKvCache;
import org.tessel.runtime.llm.Session;
import org.tessel.runtime.llm.DecoderRunner;
import org.tessel.runtime.llm.DecoderSteps;
import org.tessel.runtime.llm.GpuDecoderRunner;
import org.tessel.runtime.llm.GpuPagedKvCache;
import org.tessel.runtime.llm.KvCache;
import org.tessel.runtime.llm.Request;
import org.tessel.runtime.llm.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * A seeded synthetic serving workload on a zoo decoder, served twice on CPU engines with the same
 * KV memory: in-flight (continuous) batching, then static batching; throughput, TTFT and TPOT
 * percentiles for both.
 */
@Command(name = "serve-bench", description = {"Serve a seeded synthetic workload of generation requests (greedy) with a zoo decoder on CPU engines (--gpu: FP16 GPU engines, --bf16: BF16), "
        + "with in-flight batching (chunked prefill mixed with decode, admission bounded by the KV blocks) and then with static batching at the same KV memory; "
        + "reports throughput and TTFT/TPOT percentiles of both, and checks that both gave every request the same tokens.",
        "Arrivals are Poisson at --arrival-rate (absent: all requests at time 0). Engines are built on first use; build time is left out of the serving clock."})
final class ServeBenchCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "A zoo decoder: zoo:NAME (see `tessel zoo`), a Hugging Face Llama checkpoint folder, or a decoder-with-past ONNX file (FILE.onnx; with --gpu its step engines run on the GPU and its KV cache stays in host memory).") String model;
    @Option(names = "--requests", converter = Ranges.AtLeastOne.class, defaultValue = "64", description = "Number of requests (default ${DEFAULT-VALUE}).") int requests;
    @Option(names = "--seed", defaultValue = "1", description = "Seed of the workload: prompts, lengths, arrivals (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--arrival-rate", converter = Ranges.Rate.class, paramLabel = "R", description = "Mean arrivals per second, Poisson (default: all at once).") Double rate;
    @Option(names = "--prompt-len", defaultValue = "4-32", paramLabel = "A-B", description = "Prompt lengths, uniform in A-B tokens (default ${DEFAULT-VALUE}).") String promptLen;
    @Option(names = "--output-len", defaultValue = "4-32", paramLabel = "A-B", description = "Output lengths, uniform in A-B tokens (default ${DEFAULT-VALUE}).") String outputLen;
    @Option(names = "--kv-blocks", converter = Ranges.AtLeastOne.class, defaultValue = "48", paramLabel = "N", description = "KV cache size in blocks, the same for both policies (default ${DEFAULT-VALUE}).") int kvBlocks;
    @Option(names = "--block-size", converter = Ranges.AtLeastOne.class, defaultValue = "16", description = "KV block size in tokens (default ${DEFAULT-VALUE}).") int blockSize;
    @Option(names = "--max-batch", converter = Ranges.AtLeastOne.class, defaultValue = "8", description = "Most sequences in one step (default ${DEFAULT-VALUE}).") int maxBatch;
    @Option(names = "--chunk", converter = Ranges.AtLeastOne.class, defaultValue = "16", description = "Most prompt tokens of one sequence per step, in-flight batching's chunked prefill (default ${DEFAULT-VALUE}; with --gpu "
            + "every chunk run reads all the weights: llama-1b on an H100 served 1.04x static batching at 128, 1.31x at 1024).") int chunk;
    @Option(names = "--kv-watermark", paramLabel = "FRACTION", defaultValue = "0.03", description = "In-flight admission keeps this fraction of the KV blocks free for the running "
            + "requests' growth, so fewer are preempted and recomputed (default ${DEFAULT-VALUE}; 0: admit whenever the prompt fits. llama-1b, 256 requests, 1024 blocks "
            + "on an H200: 0 preempted 121 requests, 1.79x static batching; 0.03 17, 1.90x; 0.06 2, 1.86x).") double kvWatermark;
    @Option(names = "--warmup", converter = Ranges.WarmupRuns.class, defaultValue = "1", description = "Untimed passes of the whole workload under both policies first, "
            + "so neither policy's figures carry JIT warm-up or engine building (default ${DEFAULT-VALUE}).") int warmup;
    @Option(names = "--repeat", converter = Ranges.Runs.class, defaultValue = "3", description = "Measured passes under each policy, alternating which goes first; "
            + "the pass of median makespan is reported (default ${DEFAULT-VALUE}).") int repeat;
    @Option(names = "--layers", converter = Ranges.AtLeastOne.class, description = "Decoder layers (default: the model's own).") Integer layers;

    @Option(names = "--gpu", description = "Serve on the GPU: FP16 engines planned by the joint search, the KV cache on the device (refused without a CUDA GPU); with --lora too. "
            + "An ONNX decoder's step engines run on the GPU with its KV cache in host memory, copied to and from the device each step.") boolean gpu;
    @Option(names = "--bf16", description = "With --gpu: BF16 engines, each step planned at BF16 by the joint search, the KV cache in bf16.") boolean bf16;
    @Option(names = "--prefill-form", paramLabel = "mma|tiled", description = "With --gpu: force the paged prefill kernel's form on the search for prefill chunks, "
            + "mma (f16 tensor cores; FP16 with an f16 KV cache) or tiled (f32 on CUDA cores). Default: the search's cheaper form for each chunk (mma where it runs).") String prefillForm;

    @Option(names = "--split-steps", description = "With --gpu: run a step's decode rows and prompt chunks as two engine runs, each chunk padded to the power of two at or above "
            + "the step's longest (as the CPU runner does), instead of one packed run of all its rows' tokens (the default): for comparison.") boolean splitSteps;

    @Option(names = "--kv-cache", paramLabel = "native|fp8[:SCALE]", description = "How the KV cache stores keys and values: native (f32 on CPU engines, f16 with --gpu; "
            + "the default), fp8 (E4M3 codes, per-layer K and V scales amax / 448 calibrated on text windows) or fp8:SCALE (one fixed scale). --kv-blocks counts blocks either way.") String kvCache;
    @Option(names = "--sessions", converter = Ranges.AtLeastOne.class, paramLabel = "N", description = "Serve N multi-turn sessions instead of --requests: "
            + "turn 0 a prompt of --prompt-len tokens, each later turn --turn-len new tokens after the whole context so far, arriving --think seconds after the previous turn's "
            + "last token; every turn --output-len tokens out. Compares the recompute policy (a finished turn frees its KV; the next turn recomputes the context) with --kv-offload.") Integer sessions;
    @Option(names = "--turns", converter = Ranges.AtLeastOne.class, defaultValue = "3", description = "With --sessions: turns per session (default ${DEFAULT-VALUE}).") int turns;
    @Option(names = "--turn-len", defaultValue = "4-16", paramLabel = "A-B", description = "With --sessions: new tokens of each later turn, uniform in A-B (default ${DEFAULT-VALUE}).") String turnLen;
    @Option(names = "--think", converter = Ranges.Seconds.class, defaultValue = "0.2", paramLabel = "S", description = "With --sessions: seconds between a turn's last token and the next turn (default ${DEFAULT-VALUE}).") double think;
    @Option(names = "--kv-offload", description = "With --sessions: keep idle sessions' KV, and when blocks run short offload it (least recently used first) to host memory "
            + "(pinned with --gpu) and prefetch it back when the next turn comes; needs --host-kv-mb.") boolean kvOffload;
    @Option(names = "--host-kv-mb", converter = Ranges.MiB.class, paramLabel = "MB", description = "Host memory for offloaded KV blocks, in MiB (with --kv-offload).") Double hostKvMb;
    @Option(names = "--weights", paramLabel = "int8|int4[:GROUP]", description = "Quantize the linear layers' weights group-wise (weight-only; groups of 128 by default).") String weights;
    @Option(names = "--awq", description = "AWQ activation-aware scaling before --weights, calibrated on text windows.") boolean awq;
    @Option(names = "--smoothquant", arity = "0..1", fallbackValue = "", paramLabel = "ALPHA", description = "SmoothQuant W8A8, smoothing strength ALPHA (default 0.5).") String smoothQuant;

    @Option(names = "--lora", paramLabel = "NAME=FOLDER", description = "Serve this LoRA adapter (repeatable): a PEFT folder, or NAME=random[:RANK[:SEED]] "
            + "(seeded random over q, k, v, o). Every request runs the first adapter, or with --lora-mix one drawn per request; the workload is then also served "
            + "by the base model alone (in-flight) for the throughput cost of the adapters.") List<String> lora;
    @Option(names = "--schedule-only", description = "Compute each policy's schedule instead of serving: steps, preemptions, recomputed and prefilled tokens, KV use, "
            + "the engine runs of prompt chunks and the token slots they compute (each row padded to the run's new-token bucket), "
            + "on the CPU with a stand-in decoder of the model's positions (one layer of width 16): the requests all arrive at once and run to their output lengths, so these "
            + "are the schedule a real run takes, on any hardware; no times. For choosing --kv-blocks, --max-batch, --chunk and --kv-watermark before a GPU run.") boolean scheduleOnly;
    @Option(names = "--lora-mix", description = "Spread the requests over the --lora adapters, uniformly (seeded by --seed), so steps batch rows of different adapters.") boolean loraMix;

    @Override public Integer call() {
        int[] p = range(promptLen, "--prompt-len"), o = range(outputLen, "--output-len");
        if (loraMix && (lora == null || lora.isEmpty())) throw new IllegalArgumentException("--lora-mix spreads requests over the --lora adapters: add --lora NAME=FOLDER");
        if (bf16 && !gpu) throw new IllegalArgumentException("--bf16 runs the GPU runner at BF16: add --gpu");
        if (!(kvWatermark >= 0 && kvWatermark < 1)) throw new IllegalArgumentException("--kv-watermark is a fraction of the KV blocks in [0, 1), got " + kvWatermark);
        DecoderModels.checkPrefillForm(prefillForm, model, gpu, bf16, kvCache);
        if (splitSteps && !gpu && !scheduleOnly) throw new IllegalArgumentException("--split-steps compares the GPU runner's packed steps with split ones: add --gpu (the CPU runner always splits)");
        if (scheduleOnly) return scheduleOnly(p, o);
        if (sessions == null && (kvOffload || hostKvMb != null)) throw new IllegalArgumentException((kvOffload ? "--kv-offload" : "--host-kv-mb") + " applies to multi-turn sessions: add --sessions N");
        if (kvOffload && hostKvMb == null) throw new IllegalArgumentException("--kv-offload needs a host memory budget for the offloaded KV blocks: add --host-kv-mb MB");
        if (hostKvMb != null && !kvOffload) throw new IllegalArgumentException("--host-kv-mb sizes the KV offload's host memory: add --kv-offload");
        if (sessions != null && lora != null && !lora.isEmpty()) throw new IllegalArgumentException("--sessions serves the base model; drop --lora or --sessions");
        int[] tl = sessions == null ? null : range(turnLen, "--turn-len");
        var spec = org.tessel.runtime.llm.quant.QuantizationSpec.parse(weights, awq, smoothQuant);
        DecoderModels.checkOnnxFlags(model, spec, lora);
        if (DecoderModels.onnx(model)) {
            if (sessions != null || kvCache != null)
                throw new IllegalArgumentException((sessions != null ? "--sessions" : "--kv-cache") + " runs zoo decoders and checkpoints; an ONNX decoder keeps its own cache: drop it");
            if (!gpu) {
                org.tessel.runtime.llm.OnnxDecoder onnx = DecoderModels.onnxDecoder(model, layers);
                return serve(onnx, onnx, "weights: as stored in " + model, null, () -> "CPU backend", p, o);
            }
            try (org.tessel.runtime.llm.OnnxDecoder onnx = DecoderModels.onnxGpuDecoder(model, layers, bf16)) {
                return serve(onnx, onnx, "weights: as stored in " + model + ", step engines at " + onnx.gpuPrecision() + " on the GPU",
                        "kv cache: host memory (f32), each step's past copied to the device and its present back", onnx::describeBackend, p, o);
            }
        }
        if (gpu)
            try (GpuDecoderRunner base = DecoderModels.gpuRunner(model, layers, spec, bf16, kvCache, prefillForm)) {
                base.packSteps(!splitSteps);
                if (sessions != null) return serveSessions(null, base, p, tl, o);
                GpuDecoderRunner runner = DecoderModels.withLora(base, model, layers, lora);
                try {
                    return serve(runner, base, DecoderModels.describeWeights(runner), DecoderModels.describeKv(base.kvCache(), base.config(), 2),
                            () -> "GPU backend (" + runner.precision() + ", " + runner.graphReplays() + " decode steps replayed as CUDA graphs)", p, o);
                } finally {
                    if (runner != base) runner.close();
                }
            }
        DecoderRunner plain = DecoderModels.runner(model, layers, spec, null), base = plain.withKvCache(DecoderModels.kvCache(kvCache, plain));
        if (sessions != null) return serveSessions(base, null, p, tl, o);
        DecoderRunner runner = DecoderModels.withLora(base, lora);
        return serve(runner, base, DecoderModels.describeWeights(runner), DecoderModels.describeKv(base.kvCache(), base.config(), 4), () -> "CPU backend", p, o);
    }

    /**
     * {@code --schedule-only}: both policies' schedules of the workload, computed on a stand-in decoder (one layer, width
     * 16, 512 token ids, the model's positions) on the CPU, the workload drawn with the model's vocabulary and its ids
     * taken mod 512: lengths make the schedule, not ids or weights, when every request arrives at once and runs to its
     * output length. Refused with what would make the schedule depend on the run (arrival times, GPU) or is not served
     * here (sessions, adapters, quantized weights).
     */
    private int scheduleOnly(int[] p, int[] o) {
        String with = gpu ? "--gpu" : rate != null ? "--arrival-rate" : sessions != null ? "--sessions" : lora != null && !lora.isEmpty() ? "--lora"
                : weights != null || awq || smoothQuant != null ? "--weights/--awq/--smoothquant" : kvCache != null ? "--kv-cache" : null;
        if (with != null)
            throw new IllegalArgumentException("--schedule-only computes the schedule of requests arriving at once on a CPU stand-in of the model: drop " + with);
        org.tessel.ir.zoo.DecoderConfig real = DecoderModels.config(model, layers);
        int vocab = 512;
        List<Request> workload = new ArrayList<>();
        for (Request r : workload(requests, seed, p, o, null, real.vocab()))
            workload.add(new Request(r.id(), Arrays.stream(r.prompt()).map(t -> t % vocab).toArray(), r.maxNewTokens(), r.arrivalSeconds(), r.sampler(), r.adapter()));
        var c = new org.tessel.ir.zoo.DecoderConfig(org.tessel.ir.zoo.DecoderConfig.Family.LLAMA, vocab, real.maxPositions(), 16, 1, 2, 1, 32, 1e-5f, false, 10000.0);
        DecoderRunner runner = new DecoderRunner("stand-in", c, seed);
        System.out.printf("schedule of %s (%d positions) on a CPU stand-in decoder (one layer of width 16): %d requests, seed %d, prompts %s tokens, outputs %s tokens, all arriving at once; "
                + "KV cache %d blocks of %d tokens, batch <= %d, prefill chunk %d%s; steps and preemptions as a real run takes them, no times%n", model, real.maxPositions(), requests, seed,
                promptLen, outputLen, kvBlocks, blockSize, maxBatch, chunk, watermarkBlocks() > 0 ? ", in-flight admission keeping " + watermarkBlocks() + " blocks free" : "");
        long prompts = workload.stream().mapToLong(r -> r.prompt().length).sum();
        System.out.printf("%-9s %6s %7s %6s %7s %10s %10s %7s %12s %13s%n", "policy", "served", "tokens", "steps", "preempt", "recomputed", "prefilled", "kv_util",
                "prefill_runs", "prefill_slots");
        for (BatchScheduler.Policy policy : BatchScheduler.Policy.values()) {
            PrefillCount standIn = new PrefillCount(runner, !splitSteps);
            BatchScheduler.Report r = scheduler(standIn, standIn.newCache(blockSize, kvBlocks), policy, p).run(workload);
            long served = r.outcomes().stream().filter(x -> !x.refused()).count();
            System.out.printf("%-9s %6d %7d %6d %7d %10d %10d %6.1f%% %12d %13d%n", policy == BatchScheduler.Policy.IN_FLIGHT ? "in-flight" : "static", served, r.generatedTokens(), r.steps(),
                    r.preemptions(), r.reuse().recomputedTokens(), prompts + r.reuse().recomputedTokens(), 100 * r.meanKvUtilisation(), standIn.runs, standIn.slots);
            if (policy == BatchScheduler.Policy.IN_FLIGHT) for (BatchScheduler.Outcome x : r.outcomes()) if (x.refused()) System.out.println("refused: " + x.refusal());
        }
        System.out.println(splitSteps ? "prefill_runs: engine runs of prompt chunks; prefill_slots: the token slots they compute, each row padded to the run's "
                + "new-token bucket (the power of two at or above its longest chunk), against the prefilled tokens (--split-steps)"
                : "prefill_runs: packed engine runs with prompt chunks (the GPU runner's default), the step's decode rows in the same run; prefill_slots: the token slots "
                + "they compute, all rows' tokens packed and padded to the run's token bucket (2, 3, 4, 6, 8, 12, 16, ...), against the prefilled tokens");
        return 0;
    }

    /**
     * The stand-in decoder, counting its runs with prompt chunks (steps with a row of more than one new token) and the
     * token slots they compute: packed as the GPU runner packs them (all rows' tokens in one run, the scheduler sending
     * the step's decode rows along), or split (the chunks alone, each padded to the longest's bucket).
     */
    private static final class PrefillCount implements DecoderSteps<PagedKvCache> {
        private final DecoderRunner runner;
        private final boolean packed;
        long runs, slots;

        PrefillCount(DecoderRunner runner, boolean packed) {
            this.runner = runner;
            this.packed = packed;
        }

        @Override public boolean packsSteps() { return packed; }

        @Override public List<float[][]> stepAllLogits(List<DecoderRunner.Row> rows, PagedKvCache cache) {
            int longest = rows.stream().mapToInt(r -> r.tokens().length).max().orElse(1);
            if (longest > 1) {
                runs++;
                slots += packed ? GpuDecoderRunner.packedTokenBucket(rows.stream().mapToInt(r -> r.tokens().length).sum(), rows.size())
                        : (long) rows.size() * DecoderRunner.newTokenBucket(longest, runner.config());
            }
            return runner.stepAllLogits(rows, cache);
        }

        @Override public String model() { return runner.model(); }
        @Override public org.tessel.ir.zoo.DecoderConfig config() { return runner.config(); }
        @Override public long buildNanos() { return runner.buildNanos(); }
        @Override public int enginesBuilt() { return runner.enginesBuilt(); }
        @Override public List<org.tessel.passes.lora.LoraAdapter> adapters() { return runner.adapters(); }
        @Override public int adapterId(String adapter) { return runner.adapterId(adapter); }
        @Override public PagedKvCache newCache(int blockSize, int blocks) { return runner.newCache(blockSize, blocks); }
    }

    /** A scheduler of {@code policy} as the flags say: in-flight with --chunk and --kv-watermark, static with whole prompts ({@code p}: --prompt-len). */
    private <C extends KvCache> BatchScheduler scheduler(DecoderSteps<C> runner, C cache, BatchScheduler.Policy policy, int[] p) {
        if (policy == BatchScheduler.Policy.STATIC) return new BatchScheduler(runner, cache, policy, maxBatch, p[1]);
        return new BatchScheduler(runner, cache, policy, maxBatch, chunk).withWatermark(watermarkBlocks());
    }

    /** --kv-watermark in blocks of the cache. */
    private int watermarkBlocks() { return Math.min(kvBlocks - 1, (int) Math.ceil(kvWatermark * kvBlocks)); }

    /** Serves on {@code runner} (with the --lora adapters, and then {@code base} alone when they differ), a new cache per pass. */
    private <C extends KvCache> int serve(DecoderSteps<C> runner, DecoderSteps<C> base, String weights, String kv, java.util.function.Supplier<String> backend, int[] p, int[] o) {
        var config = runner.config();
        List<Request> plain = workload(requests, seed, p, o, rate, config.vocab());
        List<Request> workload = withAdapters(plain, runner, loraMix, seed);
        System.out.println(DecoderModels.describe(runner));
        System.out.println(weights);
        if (runner != base) System.out.println(DecoderModels.describeLora(runner));
        if (kv != null) System.out.println(kv);
        System.out.printf("workload: %d requests, seed %d, prompts %s tokens, outputs %s tokens, %s; KV cache %d blocks of %d tokens (%d tokens), batch <= %d, prefill chunk %d%s%n",
                requests, seed, promptLen, outputLen, rate == null ? "all arriving at once" : "Poisson arrivals at " + rate + "/s",
                kvBlocks, blockSize, kvBlocks * blockSize, maxBatch, chunk, watermarkBlocks() > 0 ? ", in-flight admission keeping " + watermarkBlocks() + " blocks free" : "");
        // warm-up passes, then measured passes alternating which policy goes first (the JIT and the
        // shared CPU favour whichever runs second); each policy's pass of median makespan is reported
        java.util.Map<BatchScheduler.Policy, List<BatchScheduler.Report>> runs = new java.util.EnumMap<>(BatchScheduler.Policy.class);
        for (BatchScheduler.Policy policy : BatchScheduler.Policy.values()) runs.put(policy, new ArrayList<>());
        // a GPU runner's engine runs by kind during each pass: where a policy's serving time went
        GpuDecoderRunner gpuRunner = runner instanceof GpuDecoderRunner g ? g : null;
        java.util.Map<BatchScheduler.Report, GpuDecoderRunner.StepPhases> phases = new java.util.IdentityHashMap<>();
        for (int pass = 0; pass < warmup + repeat; pass++) {
            List<BatchScheduler.Policy> order = new ArrayList<>(List.of(BatchScheduler.Policy.values()));
            if (pass % 2 == 1) java.util.Collections.reverse(order);
            for (BatchScheduler.Policy policy : order) {
                BatchScheduler.Report r;
                GpuDecoderRunner.StepPhases before = gpuRunner == null ? null : gpuRunner.stepPhases();
                try (C cache = runner.newCache(blockSize, kvBlocks)) {
                    r = scheduler(runner, cache, policy, p).run(workload);
                }
                if (gpuRunner != null) phases.put(r, gpuRunner.stepPhases().minus(before));
                if (pass >= warmup) runs.get(policy).add(r);
            }
        }
        List<BatchScheduler.Report> reports = new ArrayList<>();
        for (BatchScheduler.Policy policy : BatchScheduler.Policy.values()) {
            List<BatchScheduler.Report> sorted = new ArrayList<>(runs.get(policy));
            sorted.sort(java.util.Comparator.comparingDouble(BatchScheduler.Report::makespanSeconds));
            reports.add(sorted.get(sorted.size() / 2));
        }
        System.out.printf("%-9s %6s %7s %8s %8s %9s %9s %9s %9s %9s %9s %6s %7s %7s%n", "policy", "served", "tokens", "time_s", "tok/s",
                "ttft_p50", "ttft_p90", "ttft_p99", "tpot_p50", "tpot_p90", "tpot_p99", "steps", "preempt", "kv_util");
        for (BatchScheduler.Report r : reports) {
            List<BatchScheduler.Outcome> served = r.outcomes().stream().filter(x -> !x.refused()).toList();
            double[] ttft = served.stream().mapToDouble(x -> x.ttft() * 1e3).sorted().toArray();
            double[] tpot = served.stream().filter(x -> x.output().length > 1).mapToDouble(x -> x.tpot() * 1e3).sorted().toArray();
            System.out.printf("%-9s %6d %7d %8.2f %8.1f %9.1f %9.1f %9.1f %9.2f %9.2f %9.2f %6d %7d %6.1f%%%n", r.policy() == BatchScheduler.Policy.IN_FLIGHT ? "in-flight" : "static",
                    served.size(), r.generatedTokens(), r.makespanSeconds(), r.tokensPerSecond(), pct(ttft, 50), pct(ttft, 90), pct(ttft, 99),
                    pct(tpot, 50), pct(tpot, 90), pct(tpot, 99), r.steps(), r.preemptions(), 100 * r.meanKvUtilisation());
        }
        for (BatchScheduler.Report r : reports) if (phases.containsKey(r)) printRuns(r, phases.get(r), gpuRunner.packsSteps());
        for (BatchScheduler.Outcome x : reports.getFirst().outcomes()) if (x.refused()) System.out.println("refused: " + x.refusal());
        int differ = 0;
        List<Integer> firstDifference = new java.util.ArrayList<>();
        for (int i = 0; i < workload.size(); i++) {
            long[] a = reports.get(0).outcomes().get(i).output(), b = reports.get(1).outcomes().get(i).output();
            if (Arrays.equals(a, b)) continue;
            differ++;
            int at = 0;
            while (a != null && b != null && at < Math.min(a.length, b.length) && a[at] == b[at]) at++;
            firstDifference.add(at);
        }
        System.out.printf("times in ms, each policy's median of %d measured pass(es) after %d warm-up pass(es); engines: %d built in %.2f s (with binding and CUDA graph capture, once a step shape: left out of the serving clock), %s%n",
                repeat, warmup, runner.enginesBuilt(), runner.buildNanos() / 1e9, backend.get());
        System.out.printf("in-flight vs static: %.2fx throughput at equal KV memory; outputs identical for %d of %d requests%n",
                reports.get(0).tokensPerSecond() / reports.get(1).tokensPerSecond(), workload.size() - differ, workload.size());
        if (differ > 0 && !gpu) throw new IllegalStateException(differ + " request(s) got different tokens under in-flight and static batching: a scheduling bug");
        if (differ > 0) {
            // FP16 GPU engines: the two policies run a request's tokens in steps of other shapes (rows, prefill chunks),
            // whose kernels round differently; a greedy near-tie then flips a token and the rest of the output follows.
            // The CPU backend's f32 steps compare the schedules exactly (above).
            java.util.Collections.sort(firstDifference);
            System.out.printf("warning: %d request(s) got different tokens under in-flight and static batching, the first different token at position %d (median; min %d, max %d):"
                    + " on FP16 GPU engines the policies' steps differ in shape, kernels and rounding, and a greedy near-tie flips; the CPU backend checks the schedules exactly%n",
                    differ, firstDifference.get(firstDifference.size() / 2), firstDifference.getFirst(), firstDifference.getLast());
        }
        if (runner != base) compareWithBase(runner, base, workload, plain, reports.getFirst());
        return 0;
    }

    /**
     * Where a GPU pass's serving time went: its decode runs (one new token a row) and prefill runs (chunks), each with
     * the device's share (the host waiting for the run; the engine builds that the serving clock leaves out are not in
     * it) and the host's (inputs staged, graph launched, outputs read), and the time outside any engine run (the
     * scheduler, inputs prepared, logits split, sampling).
     */
    private static void printRuns(BatchScheduler.Report r, GpuDecoderRunner.StepPhases ph, boolean packed) {
        var d = ph.decode();
        var f = ph.prefill();
        double inRuns = (ph.run().uploadNanos() + ph.run().launchNanos() + ph.run().waitNanos() + ph.run().outputNanos()) / 1e9;
        System.out.printf(java.util.Locale.ROOT, "%-9s engine runs: %d decode, %.2f s waiting for the device (%.3f ms a run) + %.2f s staging, launching, reading; "
                        + "%d %s, %.2f s waiting (%.3f ms a run) + %.2f s; outside the runs %.2f s of %.2f s%n",
                r.policy() == BatchScheduler.Policy.IN_FLIGHT ? "in-flight" : "static", d.runs(), d.waitNanos() / 1e9, d.runs() == 0 ? 0 : d.waitNanos() / 1e6 / d.runs(),
                (d.uploadNanos() + d.launchNanos() + d.outputNanos()) / 1e9, f.runs(), packed ? "packed with prompt chunks" : "prefill", f.waitNanos() / 1e9, f.runs() == 0 ? 0 : f.waitNanos() / 1e6 / f.runs(),
                (f.uploadNanos() + f.launchNanos() + f.outputNanos()) / 1e9, Math.max(0, r.makespanSeconds() - inRuns), r.makespanSeconds());
    }

    /** Seeded sessions: turn 0 a prompt of {@code prompt} tokens, later turns {@code turn} new tokens, {@code output} out each, think time {@code think}. */
    static List<Session> sessionWorkload(int count, int turns, long seed, int[] prompt, int[] turn, int[] output, Double rate, double think, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Session> out = new ArrayList<>();
        double t = 0;
        for (int i = 0; i < count; i++) {
            List<Session.Turn> ts = new ArrayList<>();
            for (int k = 0; k < turns; k++) {
                int[] len = k == 0 ? prompt : turn;
                long[] ids = new long[len[0] + r.nextInt(len[1] - len[0] + 1)];
                for (int j = 0; j < ids.length; j++) ids[j] = r.nextInt(vocab);
                ts.add(new Session.Turn(ids, output[0] + r.nextInt(output[1] - output[0] + 1), think));
            }
            if (rate != null && i > 0) t += -Math.log(1 - r.nextDouble()) / rate;
            out.add(new Session("session-" + i, t, ts));
        }
        return out;
    }

    /**
     * Serves the sessions under the recompute policy and, with --kv-offload, with offload, in alternating passes after
     * the warm-up ones; per policy its median pass: turns served, tokens, recomputed and reused context tokens,
     * offloads/prefetches/drops and bytes moved, TTFT of first and of follow-up turns. Fails when the policies gave
     * any turn different tokens.
     */
    private int serveSessions(DecoderRunner runner, GpuDecoderRunner gpuRunner, int[] p, int[] tl, int[] o) {
        var config = gpuRunner != null ? gpuRunner.config() : runner.config();
        List<Session> work = sessionWorkload(sessions, turns, seed, p, tl, o, rate, think, config.vocab());
        System.out.println(gpuRunner != null ? DecoderModels.describe(gpuRunner) : DecoderModels.describe(runner));
        System.out.println(gpuRunner != null ? DecoderModels.describeKv(gpuRunner.kvCache(), config, 2) : DecoderModels.describeKv(runner.kvCache(), config, 4));
        long budget = hostKvMb == null ? 0 : (long) (hostKvMb * (1 << 20));
        System.out.printf("workload: %d sessions of %d turns, seed %d, first prompts %s tokens, later turns %s new tokens, outputs %s tokens, think %.3g s, %s; "
                + "KV cache %d blocks of %d tokens, batch <= %d, prefill chunk %d%s%n", sessions, turns, seed, promptLen, turnLen, outputLen, think,
                rate == null ? "all sessions starting at once" : "sessions starting as Poisson arrivals at " + rate + "/s", kvBlocks, blockSize, maxBatch, chunk,
                kvOffload ? String.format("; host KV memory %.1f MiB%s", budget / (double) (1 << 20), gpuRunner != null ? " (pinned)" : "") : "");
        List<String> policies = kvOffload ? List.of("recompute", "offload") : List.of("recompute");
        java.util.Map<String, List<BatchScheduler.Report>> runs = new java.util.LinkedHashMap<>();
        for (String pol : policies) runs.put(pol, new ArrayList<>());
        for (int pass = 0; pass < warmup + repeat; pass++) {
            List<String> order = new ArrayList<>(policies);
            if (pass % 2 == 1) java.util.Collections.reverse(order);
            for (String pol : order) {
                boolean off = pol.equals("offload");
                BatchScheduler.Report r;
                if (gpuRunner != null)
                    try (GpuPagedKvCache cache = gpuRunner.newCache(blockSize, kvBlocks); GpuKvOffload host = off ? new GpuKvOffload(cache, budget) : null) {
                        BatchScheduler b = new BatchScheduler(gpuRunner, cache, BatchScheduler.Policy.IN_FLIGHT, maxBatch, chunk);
                        r = (off ? b.withOffload(host) : b).runSessions(work);
                    }
                else {
                    PagedKvCache cache = runner.newCache(blockSize, kvBlocks);
                    try (CpuKvOffload host = off ? new CpuKvOffload(cache, budget) : null) {
                        BatchScheduler b = new BatchScheduler(runner, cache, BatchScheduler.Policy.IN_FLIGHT, maxBatch, chunk);
                        r = (off ? b.withOffload(host) : b).runSessions(work);
                    }
                }
                if (pass >= warmup) runs.get(pol).add(r);
            }
        }
        System.out.printf("%-9s %6s %7s %8s %8s %9s %9s %9s %9s %8s %8s %9s %6s %6s %10s%n", "policy", "turns", "tokens", "time_s", "tok/s", "ttft0_p50",
                "ttftN_p50", "ttftN_p90", "recomp", "reused", "offload", "prefetch", "drops", "preempt", "moved_MB");
        List<BatchScheduler.Report> medians = new ArrayList<>();
        for (String pol : policies) {
            BatchScheduler.Report r = median(runs.get(pol));
            medians.add(r);
            List<BatchScheduler.Outcome> served = r.outcomes().stream().filter(x -> !x.refused()).toList();
            double[] first = served.stream().filter(x -> x.turn() == 0).mapToDouble(x -> x.ttft() * 1e3).sorted().toArray();
            double[] later = served.stream().filter(x -> x.turn() > 0).mapToDouble(x -> x.ttft() * 1e3).sorted().toArray();
            BatchScheduler.Reuse u = r.reuse();
            System.out.printf("%-9s %6d %7d %8.2f %8.1f %9.1f %9.1f %9.1f %9d %8d %8d %9d %6d %6d %10.3f%n", pol, served.size(), r.generatedTokens(), r.makespanSeconds(),
                    r.tokensPerSecond(), pct(first, 50), pct(later, 50), pct(later, 90), u.recomputedTokens(), u.reusedTokens(), u.offloads(), u.prefetches(), u.drops(),
                    r.preemptions(), (u.bytesOffloaded() + u.bytesPrefetched()) / (double) (1 << 20));
        }
        for (BatchScheduler.Outcome x : medians.getFirst().outcomes()) if (x.refused()) System.out.println("refused: " + x.refusal());
        System.out.printf("times in ms (ttft0: first turns, ttftN: follow-up turns), each policy's median of %d measured pass(es) after %d warm-up pass(es); %s%n",
                repeat, warmup, gpuRunner != null ? "GPU backend (" + gpuRunner.precision() + ")" : "CPU backend");
        if (medians.size() == 2) {
            int differ = 0;
            List<BatchScheduler.Outcome> a = medians.get(0).outcomes(), b = medians.get(1).outcomes();
            for (int i = 0; i < a.size(); i++) if (!Arrays.equals(a.get(i).output(), b.get(i).output())) differ++;
            BatchScheduler.Reuse rc = medians.get(0).reuse(), of = medians.get(1).reuse();
            System.out.printf("offload vs recompute: %d recomputed tokens saved (%d against %d), %.3f MiB moved (%.3f out, %.3f back), outputs identical for %d of %d turns%n",
                    rc.recomputedTokens() - of.recomputedTokens(), of.recomputedTokens(), rc.recomputedTokens(), (of.bytesOffloaded() + of.bytesPrefetched()) / (double) (1 << 20),
                    of.bytesOffloaded() / (double) (1 << 20), of.bytesPrefetched() / (double) (1 << 20), a.size() - differ, a.size());
            if (differ > 0) throw new IllegalStateException(differ + " turn(s) got different tokens with and without KV offload: an offload bug");
        }
        return 0;
    }

    /** Each request with an adapter of the runner: the first one, or with {@code mix} one drawn uniformly per request (seeded); none without adapters. */
    static List<Request> withAdapters(List<Request> plain, DecoderSteps<?> runner, boolean mix, long seed) {
        if (runner.adapters().isEmpty()) return plain;
        SplittableRandom r = new SplittableRandom(seed ^ 0x10AL);
        List<Request> out = new ArrayList<>();
        for (Request q : plain) {
            String a = runner.adapters().get(mix ? r.nextInt(runner.adapters().size()) : 0).name();
            out.add(new Request(q.id(), q.prompt(), q.maxNewTokens(), q.arrivalSeconds(), q.sampler(), a));
        }
        return out;
    }

    /**
     * Requests per adapter, then the workload served in-flight with the adapters and by the base model
     * alone, in alternating passes (the JIT and a shared CPU favour whichever runs later), each's median pass.
     */
    private <C extends KvCache> void compareWithBase(DecoderSteps<C> runner, DecoderSteps<C> base, List<Request> workload, List<Request> plain, BatchScheduler.Report adapted) {
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        for (BatchScheduler.Outcome x : adapted.outcomes()) if (!x.refused()) counts.merge(x.request().adapter(), 1, Integer::sum);
        List<String> parts = new ArrayList<>();
        counts.forEach((k, v) -> parts.add(k + " " + v));
        System.out.println("requests per adapter (in-flight): " + String.join(", ", parts));
        List<BatchScheduler.Report> withAdapters = new ArrayList<>(), alone = new ArrayList<>();
        for (int pass = 0; pass < warmup + repeat; pass++)
            for (int i = 0; i < 2; i++) {
                boolean adaptersNow = (i == 0) == (pass % 2 == 0);
                DecoderSteps<C> r = adaptersNow ? runner : base;
                BatchScheduler.Report rep;
                try (C cache = r.newCache(blockSize, kvBlocks)) {
                    rep = new BatchScheduler(r, cache, BatchScheduler.Policy.IN_FLIGHT, maxBatch, chunk).run(adaptersNow ? workload : plain);
                }
                if (pass >= warmup) (adaptersNow ? withAdapters : alone).add(rep);
            }
        BatchScheduler.Report a = median(withAdapters), b = median(alone);
        System.out.printf("in-flight with %s: %.1f tok/s over %d steps; base model alone: %.1f tok/s over %d steps (%.2fx of the base's throughput; medians of %d alternating passes)%n",
                loraMix ? "mixed adapters" : "adapter " + counts.keySet().iterator().next(), a.tokensPerSecond(), a.steps(), b.tokensPerSecond(), b.steps(),
                a.tokensPerSecond() / b.tokensPerSecond(), repeat);
    }

    private static BatchScheduler.Report median(List<BatchScheduler.Report> runs) {
        List<BatchScheduler.Report> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(BatchScheduler.Report::makespanSeconds));
        return sorted.get(sorted.size() / 2);
    }

    /** Seeded requests: uniform prompt and output lengths, uniform token ids, Poisson arrivals (or all at 0). */
    static List<Request> workload(int count, long seed, int[] prompt, int[] output, Double rate, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Request> out = new ArrayList<>();
        double t = 0;
        for (int i = 0; i < count; i++) {
            long[] ids = new long[prompt[0] + r.nextInt(prompt[1] - prompt[0] + 1)];
            for (int k = 0; k < ids.length; k++) ids[k] = r.nextInt(vocab);
            int n = output[0] + r.nextInt(output[1] - output[0] + 1);
            if (rate != null && i > 0) t += -Math.log(1 - r.nextDouble()) / rate;
            out.add(new Request("request-" + i, ids, n, t, Sampler.greedy()));
        }
        return out;
    }

    /** "A-B" (or "A") with 1 <= A <= B. */
    static int[] range(String text, String flag) {
        String[] parts = text.strip().split("-", -1);
        try {
            int a = Integer.parseInt(parts[0].strip()), b = parts.length == 1 ? a : Integer.parseInt(parts[1].strip());
            if (parts.length > 2 || a < 1 || b < a) throw new NumberFormatException();
            return new int[] {a, b};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " must be A-B with 1 <= A <= B tokens (or one number), got '" + text + "'");
        }
    }

    /** The p-th percentile by nearest rank (NaN for none). */
    static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
