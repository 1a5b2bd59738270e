package org.tessel.runtime.llm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Serves generation requests on a {@link DecoderRunner} with a bounded {@link PagedKvCache} (CPU engines), or on a
 * {@link GpuDecoderRunner} with a {@link GpuPagedKvCache} (GPU engines), one engine step at a time, under one of two
 * policies:
 *
 * <ul>
 *   <li>{@link Policy#IN_FLIGHT} (continuous batching, Orca / vLLM): a request is admitted as soon
 *       as it has arrived, a row is free and the cache holds its prompt; every step mixes prefill
 *       chunks (at most {@code chunk} tokens of a prompt) with the decode tokens of the others (as
 *       two engine calls, decode rows and prefill chunks: static shapes would pad each decode row
 *       to the chunk length), rows of different LoRA adapters alike (each request names its own); the
 *       cache grows block by block, and when it runs out the most recently admitted request is
 *       preempted (its blocks freed, its tokens recomputed later, vLLM's recompute mode).</li>
 *   <li>{@link Policy#STATIC}: a batch is admitted only when the previous one has finished, and only
 *       as many requests as the cache holds at their worst case (prompt + max new tokens), as a
 *       contiguous [batch, max length] cache would; the batch runs until its last member
 *       finishes.</li>
 * </ul>
 *
 * <p>A request that could never fit (prompt + max new tokens beyond the model's positions or the
 * whole cache, or an adapter the runner does not serve) is refused with a reason naming it; the others run as if it had not come. Times are
 * measured on a clock that leaves out engine building (each step shape's engine is built once, on
 * first use), so the figures are serving times.
 */
public final class BatchScheduler {
    public enum Policy { IN_FLIGHT, STATIC }

    private final DecoderSteps<?> runner;
    private final java.util.function.Function<List<DecoderRunner.Row>, List<float[]>> step;
    private final KvBlockAllocator cache;
    private final Policy policy;
    private final int maxBatch, chunk;

    /** What happened to one request: its tokens and times (seconds on the serving clock), or why it was refused. */
    public record Outcome(Request request, long[] output, double firstTokenSeconds, double finishSeconds, int preemptions, String refusal) {
        public boolean refused() { return refusal != null; }
        public double ttft() { return firstTokenSeconds - request.arrivalSeconds(); }
        /** Time per output token after the first (0 for a single token). */
        public double tpot() { return output.length <= 1 ? 0 : (finishSeconds - firstTokenSeconds) / (output.length - 1); }
    }

    /** A run's outcomes in request order, with its steps, preemptions and mean KV utilisation over steps. */
    public record Report(Policy policy, List<Outcome> outcomes, double makespanSeconds, int steps, int preemptions, double meanKvUtilisation,
                         double buildSeconds, int engines) {
        public long generatedTokens() { return outcomes.stream().filter(o -> !o.refused()).mapToLong(o -> o.output().length).sum(); }
        public double tokensPerSecond() { return makespanSeconds == 0 ? 0 : generatedTokens() / makespanSeconds; }
    }

    private static final class Live {
        final Request request;
        final List<Long> known = new ArrayList<>();
        final List<Long> generated = new ArrayList<>();
        int fed, preemptions;
        double firstToken = Double.NaN;

        Live(Request r) {
            request = r;
            for (long t : r.prompt()) known.add(t);
        }

        String id() { return request.id(); }
        boolean done() { return generated.size() >= request.maxNewTokens(); }
    }

    /** Serves on {@code runner} ({@link DecoderRunner}: CPU engines; {@link GpuDecoderRunner}: GPU engines, the KV cache on the device) with {@code cache}. */
    public <C extends KvCache> BatchScheduler(DecoderSteps<C> runner, C cache, Policy policy, int maxBatch, int chunk) {
        if (maxBatch < 1) throw new IllegalArgumentException("the batch must hold at least 1 request, got " + maxBatch);
        if (chunk < 1) throw new IllegalArgumentException("a prefill chunk must be at least 1 token, got " + chunk);
        this.runner = runner;
        this.step = rows -> runner.step(rows, cache);
        this.cache = cache.allocator();
        this.policy = policy;
        this.maxBatch = maxBatch;
        this.chunk = chunk;
    }

    /** Serves the requests (ids unique) to completion; arrivals are honoured on the serving clock. */
    public Report run(List<Request> requests) {
        Map<String, Outcome> outcomes = new LinkedHashMap<>();
        List<Request> pending = new ArrayList<>();
        for (Request r : requests) {
            if (outcomes.containsKey(r.id())) throw new IllegalArgumentException("request id " + r.id() + " is used twice");
            outcomes.put(r.id(), null);
            String why = refusal(r);
            if (why != null) outcomes.put(r.id(), new Outcome(r, new long[0], Double.NaN, Double.NaN, 0, why));
            else pending.add(r);
        }
        pending.sort(Comparator.comparingDouble(Request::arrivalSeconds));
        Deque<Request> arrivals = new ArrayDeque<>(pending);
        Deque<Live> waiting = new ArrayDeque<>();
        List<Live> running = new ArrayList<>();
        long buildAtStart = runner.buildNanos();
        long start = System.nanoTime();
        int steps = 0, preemptions = 0;
        double utilisationSum = 0;
        while (!arrivals.isEmpty() || !waiting.isEmpty() || !running.isEmpty()) {
            double now = clock(start, buildAtStart);
            while (!arrivals.isEmpty() && arrivals.peek().arrivalSeconds() <= now) waiting.add(new Live(arrivals.poll()));
            admit(waiting, running);
            if (running.isEmpty()) {
                if (arrivals.isEmpty()) throw new IllegalStateException("requests wait that no step can serve: " + waiting.peek().id());
                sleepUntil(arrivals.peek().arrivalSeconds(), start, buildAtStart);
                continue;
            }
            // compose the step: rows in admission order, preempting the newest when the cache runs out
            List<Live> rows = new ArrayList<>();
            List<long[]> feeds = new ArrayList<>();
            int blocksNeeded = 0;
            for (int i = 0; i < running.size(); i++) {
                Live s = running.get(i);
                int n = Math.min(chunk, s.known.size() - s.fed);
                int need = cache.blocksFor(s.fed + n) - (cache.contains(s.id()) ? cache.blockTable(s.id()).size() : 0);
                while (blocksNeeded + need > cache.freeBlocks()) {
                    Live victim = running.removeLast();
                    preempt(victim, waiting);
                    preemptions++;
                    if (victim == s) { need = -1; break; }
                }
                if (need < 0) break;
                blocksNeeded += need;
                rows.add(s);
                long[] feed = new long[n];
                for (int k = 0; k < n; k++) feed[k] = s.known.get(s.fed + k);
                feeds.add(feed);
            }
            if (rows.isEmpty()) continue;
            List<float[]> logits = runStep(rows, feeds);
            steps++;
            utilisationSum += cache.utilisation();
            double t = clock(start, buildAtStart);
            for (int i = 0; i < rows.size(); i++) {
                Live s = rows.get(i);
                s.fed += feeds.get(i).length;
                if (s.fed < s.known.size()) continue; // mid-prompt chunk: no token yet
                long token = s.request.sampler().next(logits.get(i));
                s.generated.add(token);
                s.known.add(token);
                if (Double.isNaN(s.firstToken)) s.firstToken = t;
                if (s.done()) {
                    cache.free(s.id());
                    running.remove(s);
                    outcomes.put(s.id(), new Outcome(s.request, s.generated.stream().mapToLong(Long::longValue).toArray(), s.firstToken, t, s.preemptions, null));
                }
            }
        }
        double makespan = clock(start, buildAtStart);
        return new Report(policy, List.copyOf(outcomes.values()), makespan, steps, preemptions, steps == 0 ? 0 : utilisationSum / steps,
                (runner.buildNanos() - buildAtStart) / 1e9, runner.enginesBuilt());
    }

    /**
     * Runs one step's rows: the single-token rows (decode) as one engine call and the longer
     * prefill chunks as another, since static shapes would otherwise pad every decode row to the
     * chunk's length. Returns the logits in row order.
     */
    private List<float[]> runStep(List<Live> rows, List<long[]> feeds) {
        List<DecoderRunner.Row> single = new ArrayList<>(), chunks = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) (feeds.get(i).length == 1 ? single : chunks).add(new DecoderRunner.Row(rows.get(i).id(), feeds.get(i), rows.get(i).request.adapter()));
        List<float[]> a = single.isEmpty() ? List.of() : step.apply(single), b = chunks.isEmpty() ? List.of() : step.apply(chunks);
        List<float[]> out = new ArrayList<>();
        int ia = 0, ib = 0;
        for (long[] f : feeds) out.add(f.length == 1 ? a.get(ia++) : b.get(ib++));
        return out;
    }

    /** Why a request can never be served, or null. */
    private String refusal(Request r) {
        int need = r.prompt().length + r.maxNewTokens(), max = runner.config().maxPositions();
        if (r.prompt().length > max)
            return "request " + r.id() + ": its prompt of " + r.prompt().length + " tokens is longer than " + runner.model() + "'s " + max + " positions";
        if (need > max)
            return "request " + r.id() + ": prompt " + r.prompt().length + " + max new tokens " + r.maxNewTokens() + " = " + need + " exceeds " + runner.model() + "'s " + max + " positions";
        if (cache.blocksFor(need) > cache.numBlocks())
            return "request " + r.id() + ": " + need + " tokens need " + cache.blocksFor(need) + " KV blocks of " + cache.blockSize() + " and the cache has " + cache.numBlocks();
        try {
            runner.adapterId(r.adapter());
        } catch (IllegalArgumentException e) {
            return "request " + r.id() + ": " + e.getMessage();
        }
        for (long t : r.prompt())
            if (t < 0 || t >= runner.config().vocab())
                return "request " + r.id() + ": prompt token " + t + " is outside " + runner.model() + "'s vocabulary [0, " + runner.config().vocab() + ")";
        return null;
    }

    private void admit(Deque<Live> waiting, List<Live> running) {
        if (policy == Policy.IN_FLIGHT) {
            int reserved = 0;
            for (Live s : running) reserved += Math.max(0, cache.blocksFor(Math.min(s.known.size(), s.fed + chunk)) - heldBlocks(s));
            while (!waiting.isEmpty() && running.size() < maxBatch) {
                Live s = waiting.peek();
                int need = cache.blocksFor(s.known.size());
                if (reserved + need > cache.freeBlocks()) break; // first come, first served: the head waits for room
                reserved += need;
                running.add(waiting.poll());
            }
        } else if (running.isEmpty()) {
            int worst = 0;
            while (!waiting.isEmpty() && running.size() < maxBatch) {
                Request r = waiting.peek().request;
                int need = cache.blocksFor(r.prompt().length + r.maxNewTokens());
                if (worst + need > cache.freeBlocks()) break;
                worst += need;
                running.add(waiting.poll());
            }
        }
    }

    private int heldBlocks(Live s) { return cache.contains(s.id()) ? cache.blockTable(s.id()).size() : 0; }

    private void preempt(Live s, Deque<Live> waiting) {
        cache.free(s.id());
        s.fed = 0;
        s.preemptions++;
        waiting.addFirst(s);
    }

    private double clock(long start, long buildAtStart) {
        return (System.nanoTime() - start - (runner.buildNanos() - buildAtStart)) / 1e9;
    }

    private void sleepUntil(double seconds, long start, long buildAtStart) {
        double wait = seconds - clock(start, buildAtStart);
        if (wait <= 0) return;
        try {
            Thread.sleep((long) Math.ceil(wait * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the next request", e);
        }
    }
}
