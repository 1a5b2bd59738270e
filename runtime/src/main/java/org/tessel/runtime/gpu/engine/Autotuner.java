package org.tessel.runtime.gpu.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.tessel.cost.CostModel;
import org.tessel.ir.Node;
import org.tessel.runtime.cuda.CudaEvent;
import org.tessel.runtime.cuda.CudaGraph;
import org.tessel.runtime.cuda.CudaStream;
import org.tessel.runtime.cuda.DeviceBuffer;
import org.tessel.runtime.cuda.ffm.Cudnn;
import org.tessel.runtime.gpu.kernels.CublasLtGemm;
import org.tessel.runtime.gpu.kernels.CudnnConv;
import org.tessel.runtime.tuning.Measurement;
import org.tessel.runtime.tuning.TacticPredictor;
import org.tessel.runtime.tuning.TacticTimer;
import org.tessel.runtime.tuning.TimingCache;

/**
 * Picks the library algorithm of each convolution and GEMM layer at build time.
 *
 * <p>Candidates: for a cuDNN convolution, IMPLICIT_PRECOMP_GEMM and every algorithm of cuDNN's
 * heuristic ranking with status ok and workspace within the limit; with the identity activation
 * cuDNN's fused call takes IMPLICIT_PRECOMP_GEMM only, so that is the one candidate (a Clip with
 * lo >= 0 runs as the ReLU call plus a clamp, so it has them all). For a cuBLASLt GEMM, up to
 * {@value #GEMM_ALGOS} algorithms of cuBLASLt's heuristic. Each candidate gets the cost model's
 * prediction ({@link TacticPredictor}: the same code the calibration report uses), and the ranking is
 * by prediction, unpredicted ones last, ties in the library's heuristic order. Then by level:
 * COST_MODEL keeps the first that runs (one untimed trial call each), TOP_K times the first k, ALL
 * times every one, and the fastest measured wins ({@link TacticTimer#fastest}: medians within the noise
 * are a tie, going to the smaller tactic id).
 *
 * <p>Timing: one CUDA graph of {@value #REPEAT} calls per sample between CUDA events (single calls
 * from Java measure ~50 us of host overhead instead), {@link TacticTimer} warm-up then median and
 * MAD over samples; the calls rotate over up to {@value #ROTATE} copies of the input when that costs
 * at most {@value #ROTATE_LIMIT_MIB} MiB, so a call does not find its input in L2 from the previous one. Cache hits
 * (same signature, tactic and environment) are reused without timing; misses are timed and put in
 * the cache. Algorithms the library refuses at run time are dropped.
 *
 * <p>Every candidate is recorded ({@link #records()}): node, signature, tactic id, predicted us,
 * measured us (NaN when not timed), whether chosen and whether from the cache.
 */
final class Autotuner {
    static final int REPEAT = 5, ROTATE = 3, ROTATE_LIMIT_MIB = 64, GEMM_ALGOS = 8;

    /** One candidate of one layer. */
    record Record(String node, String signature, String tactic, double predictedUs, double measuredUs, double madUs, boolean timed,
                  boolean cached, boolean chosen) {}

    private final GpuEngine.Options options;
    /** The precision of the layer being tuned (the engine's per-node precision). */
    private final java.util.function.Supplier<GpuEngine.Precision> precision;
    private final CostModel model;
    private final TacticPredictor predictor = TacticPredictor.builtin();
    private final TacticTimer timer = new TacticTimer(2, 9, 1);
    private final List<Record> records = new ArrayList<>();
    private DeviceBuffer workspace;
    private final List<DeviceBuffer> rotation = new ArrayList<>();
    private CudaStream stream;
    private int timedNow, cacheHits;

    Autotuner(GpuEngine.Options options, java.util.function.Supplier<GpuEngine.Precision> precision) {
        this.options = options;
        this.precision = precision;
        this.model = TacticPredictor.model(options.target());
    }

    List<Record> records() { return Collections.unmodifiableList(records); }
    /** Candidates timed on the GPU during this build. */
    int timedNow() { return timedNow; }
    int cacheHits() { return cacheHits; }

    /** A candidate: its tactic id, its place in the library's heuristic order, and the call that enqueues it on a given input. */
    private record Candidate(String id, int heuristicRank, java.util.function.BiConsumer<DeviceBuffer, CudaStream> call) {}

    Cudnn.FwdAlgo conv(CudnnConv k, Node conv, Node owner, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer bb, DeviceBuffer zb, DeviceBuffer yb, boolean relu) {
        return conv(k, conv, owner, xb, wb, bb, zb, yb, relu, null);
    }

    /**
     * As above for one form of the convolution ({@code form}, e.g. a stem variant with padded channels: the node's
     * signature is the same for every form, so the timing cache keys it apart); null: the node as it is.
     */
    Cudnn.FwdAlgo conv(CudnnConv k, Node conv, Node owner, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer bb, DeviceBuffer zb, DeviceBuffer yb, boolean relu, String form) {
        LinkedHashSet<Cudnn.FwdAlgo> algos = new LinkedHashSet<>();
        algos.add(Cudnn.FwdAlgo.IMPLICIT_PRECOMP_GEMM);
        if (relu) for (Cudnn.AlgoPerf a : k.heuristics()) if (a.ok() && a.workspaceBytes() <= options.maxWorkspaceBytes()) algos.add(a.algo());
        String signature = TimingCache.signature(owner, precision.get().name()) + (owner == conv ? "" : "|" + TimingCache.signature(conv, precision.get().name()));
        Map<String, Cudnn.FwdAlgo> byId = new LinkedHashMap<>();
        List<Candidate> cands = new ArrayList<>();
        int rank = 0;
        for (Cudnn.FwdAlgo a : algos) {
            String id = TacticPredictor.CONV_FUSED + "/" + a.tacticId();
            byId.put(id, a);
            long ws = k.workspaceSize(a);
            cands.add(new Candidate(id, rank++, (x, s) -> k.runBiasActivation(a, x, wb, bb, zb, 1f, relu, yb, workspace(ws), s)));
        }
        String chosen = choose(owner, signature, form == null ? signature : signature + "#" + form, cands, xb, false);
        if (chosen == null) throw new GpuEngineException("cannot build a GPU engine: " + owner.describe() + ": no cuDNN algorithm ran the fused convolution (tried " + algos + ")");
        return byId.get(chosen);
    }

    int gemm(CublasLtGemm g, Node n, DeviceBuffer xb, DeviceBuffer wb, DeviceBuffer yb) {
        String signature = TimingCache.signature(n, precision.get().name());
        List<Candidate> cands = new ArrayList<>();
        for (int i = 0; i < g.algos().size(); i++) {
            int idx = i;
            long ws = g.algos().get(i).workspaceBytes();
            cands.add(new Candidate(TacticPredictor.GEMM + "/heuristic_" + i, i, (x, s) -> g.run(idx, x, wb, yb, workspace(Math.max(ws, CublasLtGemm.WORKSPACE_BYTES)), s)));
        }
        String chosen = choose(n, signature, signature, cands, xb, false);
        if (chosen == null) throw new GpuEngineException("cannot build a GPU engine: " + n.describe() + ": no cuBLASLt algorithm ran");
        return Integer.parseInt(chosen.substring(chosen.lastIndexOf('_') + 1));
    }

    /**
     * The fastest of whole alternative implementations of one layer (tactic id to the call that enqueues it on
     * input {@code xb}, e.g. the stem's reformat kernel plus its convolution): every one is timed unless the level is
     * COST_MODEL (then the first that runs, in the map's order). Null when none ran.
     */
    String fastestOf(Node owner, Node conv, Map<String, java.util.function.BiConsumer<DeviceBuffer, CudaStream>> calls, DeviceBuffer xb) {
        String signature = TimingCache.signature(owner, precision.get().name()) + (owner == conv ? "" : "|" + TimingCache.signature(conv, precision.get().name()));
        List<Candidate> cands = new ArrayList<>();
        int rank = 0;
        for (var e : calls.entrySet()) cands.add(new Candidate(e.getKey(), rank++, e.getValue()));
        return choose(owner, signature, signature, cands, xb, true);
    }

    /** Ranks, times as the level says, records; the chosen tactic id or null when none ran. */
    private String choose(Node owner, String signature, String cacheKey, List<Candidate> cands, DeviceBuffer xb, boolean timeAll) {
        Map<String, Double> predicted = new LinkedHashMap<>();
        // whole alternatives (timeAll) are not library algorithms the cost model prices
        for (Candidate c : cands) predicted.put(c.id(), timeAll ? Double.NaN : predictor.predictUs(signature, c.id(), model));
        List<Candidate> ranked = new ArrayList<>(cands);
        ranked.sort(Comparator.comparingDouble((Candidate c) -> { double p = predicted.get(c.id()); return Double.isNaN(p) ? Double.POSITIVE_INFINITY : p; })
                .thenComparingInt(Candidate::heuristicRank));
        if (stream == null) stream = CudaStream.create();
        int toTime = switch (options.level()) {
            case COST_MODEL -> 0;
            case TOP_K -> timeAll ? ranked.size() : options.topK();
            case ALL -> ranked.size();
        };
        Map<String, Measurement> timings = new TreeMap<>();
        Map<String, Boolean> fromCache = new LinkedHashMap<>();
        String chosen = null;
        int attempted = 0;
        for (Candidate c : ranked) {
            if (toTime == 0) {
                // COST_MODEL: the first in rank order that the library runs
                if (trial(c, xb)) { chosen = c.id(); break; }
                continue;
            }
            if (attempted >= toTime) break;
            Optional<Measurement> hit = options.cache() == null ? Optional.empty() : options.cache().get(cacheKey, c.id());
            if (hit.isPresent()) { timings.put(c.id(), hit.get()); fromCache.put(c.id(), true); cacheHits++; attempted++; continue; }
            if (!trial(c, xb)) continue; // refused at run time: not a candidate, the next one takes its place
            attempted++;
            Measurement m = time(c, xb);
            timedNow++;
            timings.put(c.id(), m);
            fromCache.put(c.id(), false);
            if (options.cache() != null) options.cache().put(cacheKey, c.id(), m);
        }
        if (toTime > 0 && !timings.isEmpty()) chosen = TacticTimer.fastest(timings);
        for (Candidate c : ranked) {
            Measurement m = timings.get(c.id());
            records.add(new Record(owner.name(), signature, c.id(), predicted.get(c.id()), m == null ? Double.NaN : m.medianUs(), m == null ? Double.NaN : m.madUs(),
                    m != null, fromCache.getOrDefault(c.id(), false), c.id().equals(chosen)));
        }
        return chosen;
    }

    private boolean trial(Candidate c, DeviceBuffer xb) {
        try {
            c.call().accept(xb, stream);
            stream.synchronize();
            return true;
        } catch (RuntimeException e) {
            stream.synchronize();
            return false;
        }
    }

    private Measurement time(Candidate c, DeviceBuffer xb) {
        List<DeviceBuffer> inputs = inputs(xb);
        CudaStream s = stream;
        try (CudaEvent start = new CudaEvent(); CudaEvent end = new CudaEvent();
             CudaGraph g = CudaGraph.capture(s, () -> { for (int i = 0; i < REPEAT; i++) c.call().accept(inputs.get(i % inputs.size()), s); })) {
            return timer.time(buffer -> {
                start.record(s);
                g.launch(s);
                end.record(s);
                return end.elapsedSince(start) * 1e3 / REPEAT;
            });
        }
    }

    /** The input and up to ROTATE - 1 copies of it (kept while the same input is tuned). */
    private List<DeviceBuffer> inputs(DeviceBuffer xb) {
        if (!rotation.isEmpty() && rotation.get(0) == xb) return rotation;
        for (int i = 1; i < rotation.size(); i++) rotation.get(i).close();
        rotation.clear();
        rotation.add(xb);
        if (xb.bytes() * (ROTATE - 1) <= (long) ROTATE_LIMIT_MIB << 20) {
            for (int i = 1; i < ROTATE; i++) {
                DeviceBuffer copy = DeviceBuffer.allocate(xb.bytes());
                copy.copyFromAsync(xb, stream);
                rotation.add(copy);
            }
            stream.synchronize();
        }
        return rotation;
    }

    /** The tuner's scratch workspace, at least {@code bytes}. */
    DeviceBuffer workspace(long bytes) {
        if (workspace == null || workspace.bytes() < bytes) {
            if (workspace != null) workspace.close();
            workspace = DeviceBuffer.allocate(Math.max(bytes, GpuEngine.MIN_WORKSPACE_BYTES));
        }
        return workspace;
    }

    /** Frees the tuning buffers and stream (the records stay). */
    void release() {
        for (int i = 1; i < rotation.size(); i++) rotation.get(i).close();
        rotation.clear();
        if (workspace != null) { workspace.close(); workspace = null; }
        if (stream != null) { stream.close(); stream = null; }
    }
}
