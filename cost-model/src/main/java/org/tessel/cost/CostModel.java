package org.tessel.cost;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.tessel.api.DType;
import org.tessel.api.TensorType;

/**
 * The analytical latency model: a roofline per kernel with the effects that decide which tactic
 * wins on a real GPU.
 * <ul>
 * <li><b>compute</b> = FLOPs / (peak x efficiency x wave quantization x tile fill x alignment):
 * peak is the tensor-core rate of the precision, or the FP32 CUDA-core rate; a tiled tactic
 * splits the GEMM into ceil(M/tileM) x ceil(N/tileN) (x split-K) CTAs that run in waves of
 * SMs x CTAs-per-SM, so the last partial wave and the padding of edge tiles waste capacity; like
 * the libraries' heuristics, the model picks the tile size and split-K that suit the shape
 * ({@link #kernelShape}); a tensor-core tactic whose K or N is not a multiple of its alignment
 * runs at {@link Params#misalignedPenalty}.</li>
 * <li>a small tiled kernel is latency bound: its compute time is at least its main loop's
 * waves x K-steps x {@link Params#iterationLatencyNs}, which is why the libraries split K.</li>
 * <li><b>memory</b> = bytes / (bandwidth x the tactic's memory efficiency) + a least latency per
 * kernel ({@link Params#kernelLatencyUs}): fused kernels move only their boundary tensors
 * ({@link Work#of}), and launch fewer kernels.</li>
 * <li><b>launch</b> = kernels x per-kernel overhead, smaller under CUDA graphs.</li>
 * </ul>
 * A kernel takes max(compute, memory) + launch. Reformat and cast costs on edges are memory
 * bound kernels of their own. The free parameters live in {@link Params}; {@link Calibration}
 * fits them to measured timings. Immutable.
 */
public final class CostModel {
    /** Stages of the shared-memory pipeline a tiled GEMM kernel keeps in flight. */
    static final int PIPELINE_STAGES = 3;
    /** Register file per SM on every built-in GPU (Volta through Hopper): 64 K 32-bit registers. */
    static final long REGISTER_FILE_BYTES = 256 * 1024;
    /** Register bytes a CTA needs per accumulator element: the fp32/int32 accumulator plus about as much for operand fragments. */
    static final int REGISTER_BYTES_PER_ACCUMULATOR = 8;
    /**
     * CTAs that share an SM's throughput: a 128x128 tile's eight warps keep an SM's tensor cores
     * (or FP32 units) busy alone, smaller tiles need more CTAs for the same throughput, up to four
     * (one per sub-partition); more resident CTAs hide latency but add no throughput.
     */
    static final int SATURATING_TILE_ELEMENTS = 128 * 128, MAX_CTAS_PER_SM = 4;
    /** Memory efficiency of a layout transpose (strided on one side) and of a cast (streaming). */
    static final double REFORMAT_MEMORY_EFFICIENCY = 0.7, CAST_MEMORY_EFFICIENCY = 0.85;
    /** Host-device transfer rate and per-transfer latency for a CPU tactic inside a GPU engine (PCIe Gen4/5 x16, effective). */
    static final double PCIE_GBS = 25, PCIE_LATENCY_US = 10;

    /**
     * The model's free parameters, which calibration fits.
     *
     * @param tensorCoreScale    multiplies the efficiency of tensor-core kernels
     * @param cudaCoreScale      multiplies the efficiency of CUDA-core kernels
     * @param memoryScale        multiplies every memory efficiency
     * @param launchScale        multiplies the launch overheads
     * @param misalignedPenalty  speed factor of a tensor-core kernel whose K or N is misaligned, in (0, 1]
     * @param iterationLatencyNs the least time one main-loop step (one tileK slice) of a tiled kernel
     *                           takes, however little it computes: a small GEMM is a chain of K/tileK
     *                           dependent loads, so its compute time is at least waves x steps x this
     * @param kernelLatencyUs    the least time a kernel spends in memory, however few bytes it moves
     *                           (a round trip to DRAM, CTA start and drain)
     * @param familyScale        time factor per tactic family, keyed by an id prefix ("cudnn.conv",
     *                           "cublaslt.gemm.bias_gelu"); the longest matching prefix multiplies the
     *                           kernel time (compute and memory) of that tactic, not the launch overhead
     */
    public record Params(double tensorCoreScale, double cudaCoreScale, double memoryScale, double launchScale,
                         double misalignedPenalty, double iterationLatencyNs, double kernelLatencyUs, Map<String, Double> familyScale) {
        public Params {
            positive("tensorCoreScale", tensorCoreScale);
            positive("cudaCoreScale", cudaCoreScale);
            positive("memoryScale", memoryScale);
            positive("launchScale", launchScale);
            positive("misalignedPenalty", misalignedPenalty);
            if (misalignedPenalty > 1) throw new IllegalArgumentException("misalignedPenalty must be in (0, 1], got " + misalignedPenalty);
            nonNegative("iterationLatencyNs", iterationLatencyNs);
            nonNegative("kernelLatencyUs", kernelLatencyUs);
            TreeMap<String, Double> fs = new TreeMap<>();
            for (var e : familyScale.entrySet()) {
                positive("familyScale[" + e.getKey() + "]", e.getValue());
                fs.put(e.getKey(), e.getValue());
            }
            familyScale = Collections.unmodifiableMap(fs);
        }

        private static void positive(String what, double v) {
            if (!(v > 0) || Double.isInfinite(v)) throw new IllegalArgumentException(what + " must be a positive number, got " + v);
        }

        private static void nonNegative(String what, double v) {
            if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException(what + " must be a number >= 0, got " + v);
        }

        /**
         * Scales 1, misaligned tensor-core kernels at half speed, 100 ns per main-loop step, 0.5 us
         * least memory time per kernel, no family corrections.
         */
        public static Params defaults() { return new Params(1, 1, 1, 1, 0.5, 100, 0.5, Map.of()); }

        /** The plain roofline: scales 1, no latency floors, no family corrections (misaligned kernels still at half speed). */
        public static Params roofline() { return new Params(1, 1, 1, 1, 0.5, 0, 0, Map.of()); }

        /** The family scale of a tactic id: the longest key that equals the id or prefixes it at a dot; 1 when none does. */
        public double familyScale(String tacticId) {
            if (tacticId == null) return 1;
            String id = tacticId;
            while (true) {
                Double s = familyScale.get(id);
                if (s != null) return s;
                int dot = id.lastIndexOf('.');
                if (dot < 0) return 1;
                id = id.substring(0, dot);
            }
        }

        public Params withTensorCoreScale(double v) { return new Params(v, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, familyScale); }
        public Params withCudaCoreScale(double v) { return new Params(tensorCoreScale, v, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, familyScale); }
        public Params withMemoryScale(double v) { return new Params(tensorCoreScale, cudaCoreScale, v, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, familyScale); }
        public Params withLaunchScale(double v) { return new Params(tensorCoreScale, cudaCoreScale, memoryScale, v, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, familyScale); }
        public Params withMisalignedPenalty(double v) { return new Params(tensorCoreScale, cudaCoreScale, memoryScale, launchScale, v, iterationLatencyNs, kernelLatencyUs, familyScale); }
        public Params withIterationLatencyNs(double v) { return new Params(tensorCoreScale, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, v, kernelLatencyUs, familyScale); }
        public Params withKernelLatencyUs(double v) { return new Params(tensorCoreScale, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, v, familyScale); }

        public Params withFamilyScale(String family, double v) {
            TreeMap<String, Double> fs = new TreeMap<>(familyScale);
            fs.put(family, v);
            return new Params(tensorCoreScale, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, fs);
        }

        private static final java.util.List<String> KEYS = java.util.List.of("tensor_core_scale", "cuda_core_scale", "memory_scale", "launch_scale",
                "misaligned_penalty", "iteration_latency_ns", "kernel_latency_us");

        /** The parameters as properties: the {@link #KEYS} and {@code family.PREFIX=scale} per family. */
        public java.util.Properties toProperties() {
            java.util.Properties p = new java.util.Properties();
            double[] v = {tensorCoreScale, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs};
            for (int i = 0; i < v.length; i++) p.setProperty(KEYS.get(i), Double.toString(v[i]));
            familyScale.forEach((k, x) -> p.setProperty("family." + k, Double.toString(x)));
            return p;
        }

        /** Writes the parameters in the form {@link #load} reads, with a comment line on top. */
        public void store(java.nio.file.Path file, String comment) {
            // sorted, so a fitted file diffs well
            StringBuilder sb = new StringBuilder("# " + comment.replace("\n", " ") + "\n");
            java.util.Properties p = toProperties();
            for (String k : new java.util.TreeSet<>(p.stringPropertyNames())) sb.append(k).append('=').append(p.getProperty(k)).append('\n');
            try {
                org.tessel.ir.io.AtomicFiles.writeString(file, sb);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot write cost-model parameters: " + e.getMessage(), e);
            }
        }

        /** Reads parameters written by {@link #store}; missing keys keep their {@link #defaults()}; bad ones fail naming file and key. */
        public static Params load(java.nio.file.Path file) {
            java.util.Properties p = new java.util.Properties();
            try {
                p.load(new java.io.StringReader(org.tessel.ir.io.TextFiles.read(file)));
            } catch (java.nio.file.NoSuchFileException e) {
                throw new IllegalArgumentException(file + ": cannot read cost-model parameters: no such file", e);
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(e.getMessage(), e); // names the file: a folder, or not UTF-8 at line N
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": cannot read cost-model parameters: " + e.getMessage(), e);
            }
            return fromProperties(p, file.toString());
        }

        public static Params fromProperties(java.util.Properties p, String where) {
            Params d = defaults();
            double[] v = {d.tensorCoreScale, d.cudaCoreScale, d.memoryScale, d.launchScale, d.misalignedPenalty, d.iterationLatencyNs, d.kernelLatencyUs};
            TreeMap<String, Double> fam = new TreeMap<>();
            for (String k : p.stringPropertyNames()) {
                String raw = p.getProperty(k).trim();
                double x;
                try {
                    x = Double.parseDouble(raw);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(where + ": key '" + k + "' is not a number: '" + raw + "'");
                }
                int i = KEYS.indexOf(k);
                if (i >= 0) v[i] = x;
                else if (k.startsWith("family.") && k.length() > 7) fam.put(k.substring(7), x);
                else throw new IllegalArgumentException(where + ": unknown key '" + k + "' (known: " + String.join(", ", KEYS) + ", family.PREFIX)");
            }
            try {
                return new Params(v[0], v[1], v[2], v[3], v[4], v[5], v[6], fam);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
        }

        /** The parameters fitted to the 278 kernels timed on the project's H200, for {@link DeviceSpec#h200Measured()}. */
        /**
         * Parameters by name: "defaults", "h200-fitted", or a file written by {@link #store}; {@code flag} names the option
         * in messages.
         */
        public static Params named(String name, String flag) {
            if (name.equals("defaults")) return defaults();
            if (name.equals("h200-fitted")) return h200Fitted();
            java.nio.file.Path f = java.nio.file.Path.of(name);
            if (!java.nio.file.Files.isRegularFile(f))
                throw new IllegalArgumentException(flag + " " + name + ": no such file (give 'defaults', 'h200-fitted' or a file written by --write-params)");
            return load(f);
        }

        public static Params h200Fitted() {
            String res = "params/h200-fitted.properties";
            try (java.io.InputStream in = CostModel.class.getResourceAsStream(res)) {
                if (in == null) throw new IllegalStateException(res + " is missing from the class path");
                java.util.Properties p = new java.util.Properties();
                p.load(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8));
                return fromProperties(p, res);
            } catch (java.io.IOException e) {
                throw new IllegalStateException(res + ": " + e.getMessage(), e);
            }
        }

        @Override public String toString() {
            StringBuilder fs = new StringBuilder();
            for (var e : familyScale.entrySet()) fs.append(fs.isEmpty() ? "" : ", ").append(e.getKey()).append('=').append(String.format(Locale.ROOT, "%.4g", e.getValue()));
            return String.format(Locale.ROOT, "tensorCoreScale=%.4g cudaCoreScale=%.4g memoryScale=%.4g launchScale=%.4g misalignedPenalty=%.4g "
                    + "iterationLatencyNs=%.4g kernelLatencyUs=%.4g familyScale={%s}",
                    tensorCoreScale, cudaCoreScale, memoryScale, launchScale, misalignedPenalty, iterationLatencyNs, kernelLatencyUs, fs);
        }
    }

    private final DeviceSpec device;
    private final Params params;

    public CostModel(DeviceSpec device) { this(device, Params.defaults()); }

    public CostModel(DeviceSpec device, Params params) {
        this.device = java.util.Objects.requireNonNull(device, "device");
        this.params = java.util.Objects.requireNonNull(params, "params");
    }

    public DeviceSpec device() { return device; }
    public Params params() { return params; }
    public CostModel withParams(Params p) { return new CostModel(device, p); }

    /** The cost of a kernel with these features doing this work, with no tactic-family correction. */
    public Cost estimate(Work w, TacticFeatures f, Precision p, boolean cudaGraphs) { return estimate(null, w, f, p, cudaGraphs); }

    /** The cost of tactic {@code tacticId} (its family scale applies) doing this work. */
    public Cost estimate(String tacticId, Work w, TacticFeatures f, Precision p, boolean cudaGraphs) {
        if (f.kernelLaunches() == 0) return Cost.ZERO;
        double family = params.familyScale(tacticId);
        KernelShape k = kernelShape(w, f, p);
        return new Cost(computeUs(w, f, p, k) * family, memoryUs(w, f, k) * family, f.kernelLaunches() * launchUs(cudaGraphs),
                k.splitKWorkspaceBytes(w));
    }

    /**
     * Throughput time of the FLOPs (for a tiled kernel at least its main loop's latency chain),
     * then the split-K reduction, which runs after the main loop and does not overlap it.
     */
    private double computeUs(Work w, TacticFeatures f, Precision p, KernelShape k) {
        if (w.flops() == 0) return 0;
        double throughput = w.flops() / (peakTflops(f, p) * 1e12 * efficiency(f) * k.efficiency() * alignmentFactor(w, f)) * 1e6;
        return Math.max(throughput, k.mainLoopSteps(w, f) * params.iterationLatencyNs() / 1000) + bytesUs(k.splitKBytes(w), f);
    }

    /** Bytes over bandwidth, plus the kernels' least memory latency. */
    private double memoryUs(Work w, TacticFeatures f, KernelShape k) {
        return bytesUs(w.bytes(), f) + f.kernelLaunches() * params.kernelLatencyUs();
    }

    private double bytesUs(double bytes, TacticFeatures f) {
        return bytes == 0 ? 0 : bytes / (device.memoryBandwidthGBs() * 1e9 * f.memoryEfficiency() * params.memoryScale()) * 1e6;
    }

    /**
     * How a tiled kernel cuts its GEMM: CTA tile, split-K factor, CTAs per SM, waves, and the
     * resulting share of peak ({@link #efficiency()}: wave quantization x tile fill x the smaller
     * tile's reuse loss). For an untiled kernel, all ones.
     */
    public record KernelShape(int tileM, int tileN, int splitK, int ctasPerSm, long tiles, long waves, double waveEfficiency, double tileFill, double reuse,
                              double streamKFixupBytes) {
        /** wave quantization x tile fill x reuse: the share of the tactic's peak this cut reaches. */
        public double efficiency() { return waveEfficiency * tileFill * reuse; }

        /** Whether the last partial wave is spread over every SM (stream-K). */
        public boolean streamK() { return streamKFixupBytes > 0; }

        /**
         * Split-K writes fp32 partial products and reads them back once, in a reduction after the main loop; stream-K's
         * partial tiles do the same through L2 ({@link #streamKFixupBytes}, already in HBM-equivalent bytes).
         */
        double splitKBytes(Work w) { return 2.0 * splitKWorkspaceBytes(w) + streamKFixupBytes; }

        /** Dependent main-loop steps of the slowest CTA slot: waves x ceil(K / (split-K x tileK)); 0 when untiled. */
        public long mainLoopSteps(Work w, TacticFeatures f) {
            if (tileM == 0) return 0;
            long kStep = f.tileK() > 0 ? f.tileK() : 32;
            return waves * ceilDiv(ceilDiv(w.gemmK(), splitK), kStep);
        }

        /** The fp32 partial products of a split-K cut live in workspace. */
        public long splitKWorkspaceBytes(Work w) { return splitK > 1 ? (long) splitK * w.gemmM() * w.gemmN() * 4 : 0; }

        static final KernelShape UNTILED = new KernelShape(0, 0, 1, 1, 0, 1, 1, 1, 1, 0);
    }

    /**
     * Smallest tile side the heuristics go down to (a tensor-core MMA fragment is 16 wide; CUDA-core
     * kernels go down to GEMV-like 8-row tiles), largest split-K factor, and the reuse lost per
     * halving of a tile side.
     */
    static final int MIN_TENSOR_CORE_TILE = 16, MIN_CUDA_CORE_TILE = 8, MAX_SPLIT_K = 16;
    static final double HALVED_TILE_REUSE = 0.85;

    /**
     * The cut a library heuristic would pick (cuBLAS's and cuDNN's pick among tile sizes and
     * split-K the way this does): starting from the tactic's tile, each side may halve down to
     * {@value #MIN_TENSOR_CORE_TILE} on tensor cores or {@value #MIN_CUDA_CORE_TILE} on CUDA cores
     * (keeping {@value #HALVED_TILE_REUSE} of the reuse per halving) and K may split into up to
     * {@value #MAX_SPLIT_K} (and the tactic's {@link TacticFeatures#maxSplitK}) slices of at least
     * two K steps; the cut with the lowest modeled time wins, ties to the larger tile and the
     * smaller split.
     */
    public KernelShape kernelShape(Work w, TacticFeatures f, Precision p) {
        if (!f.tiled() || !w.isGemm()) return KernelShape.UNTILED;
        KernelShape best = null;
        double bestUs = Double.POSITIVE_INFINITY;
        long kStep = f.tileK() > 0 ? f.tileK() : 32;
        int min = f.tensorCores() ? MIN_TENSOR_CORE_TILE : MIN_CUDA_CORE_TILE;
        for (int tm = f.tileM(); tm >= Math.min(min, f.tileM()); tm /= 2)
            for (int tn = f.tileN(); tn >= Math.min(min, f.tileN()); tn /= 2)
                for (int s = 1; s <= Math.min(MAX_SPLIT_K, f.maxSplitK()) && (s == 1 || w.gemmK() / s >= 2 * kStep); s *= 2) {
                    KernelShape k = cut(w, f, p, tm, tn, s);
                    double us = Math.max(computeUs(w, f, p, k), memoryUs(w, f, k));
                    if (us < bestUs * (1 - 1e-9)) { bestUs = us; best = k; }
                }
        if (f.streamK()) {
            KernelShape k = streamKCut(w, f, p);
            if (k != null && Math.max(computeUs(w, f, p, k), memoryUs(w, f, k)) < bestUs * (1 - 1e-9)) best = k;
        }
        return best;
    }

    /** Partial tiles of a stream-K cut pass through L2, which moves them this many times faster than HBM. */
    static final double L2_OVER_HBM = 2.5;

    /**
     * The tactic's own tile with its last partial wave spread over every CTA slot by splitting those tiles' K (cuBLAS's
     * stream-K on Ampere and Hopper): no wave quantization, at the price of every slot writing one fp32 partial tile and
     * the owners reading them back, through L2. Null when the tiles fill whole waves (nothing to balance).
     */
    KernelShape streamKCut(Work w, TacticFeatures f, Precision p) {
        KernelShape dp = cut(w, f, p, f.tileM(), f.tileN(), 1);
        long slots = (long) device.sms() * dp.ctasPerSm();
        if (dp.tiles() % slots == 0) return null;
        double fixup = 2.0 * slots * f.tileM() * f.tileN() * 4 / L2_OVER_HBM;
        return new KernelShape(dp.tileM(), dp.tileN(), 1, dp.ctasPerSm(), dp.tiles(), dp.waves(), 1.0, dp.tileFill(), dp.reuse(), fixup);
    }

    /** One cut: tiles, CTAs per SM, waves and efficiency for tile tm x tn and split-K factor s. */
    public KernelShape cut(Work w, TacticFeatures f, Precision p, int tm, int tn, int s) {
        long tiles = ceilDiv(w.gemmM(), tm) * ceilDiv(w.gemmN(), tn) * s;
        int ctas = ctasPerSm(tm, tn, f.tileK(), p);
        long slots = (long) device.sms() * ctas;
        long waves = ceilDiv(tiles, slots);
        double wave = (double) tiles / (waves * slots);
        double fill = (double) w.gemmM() * w.gemmN() * s / ((double) tiles * tm * tn);
        int halvings = Integer.numberOfTrailingZeros(f.tileM() / tm) + Integer.numberOfTrailingZeros(f.tileN() / tn);
        return new KernelShape(tm, tn, s, ctas, tiles, waves, wave, fill, Math.pow(HALVED_TILE_REUSE, halvings), 0);
    }

    /** Per-kernel launch overhead in microseconds. */
    public double launchUs(boolean cudaGraphs) {
        return (cudaGraphs ? device.graphLaunchOverheadUs() : device.launchOverheadUs()) * params.launchScale();
    }

    /** The rate a kernel runs at: its precision's tensor-core peak, or the FP32 CUDA-core peak. */
    public double peakTflops(TacticFeatures f, Precision p) {
        return f.tensorCores() && device.supports(p) ? device.peak(p) : device.cudaCoreTflops();
    }

    /** The tactic's efficiency with the calibrated scale of its unit (tensor cores or CUDA cores). */
    public double efficiency(TacticFeatures f) {
        return f.peakEfficiency() * (f.tensorCores() ? params.tensorCoreScale() : params.cudaCoreScale());
    }

    /** CTAs of the tactic's own tile that fit on one SM at once. */
    public int ctasPerSm(TacticFeatures f, Precision p) { return ctasPerSm(f.tileM(), f.tileN(), f.tileK(), p); }

    /**
     * CTAs of a tm x tn tile that share one SM's throughput, so that a lone CTA gets 1/this of the
     * SM: as many as it takes to saturate the SM ({@value #SATURATING_TILE_ELEMENTS} / (tm x tn),
     * 1 to {@value #MAX_CTAS_PER_SM}), but no more than fit by shared memory (a
     * {@value #PIPELINE_STAGES}-stage pipeline of A and B slices, tileK deep) and by registers
     * (the accumulators and operand fragments); at least 1.
     */
    public int ctasPerSm(int tm, int tn, int tileK, Precision p) {
        if (tm == 0) return 1;
        long k = tileK > 0 ? tileK : 32;
        long smem = (long) (tm + tn) * k * p.storage().bytes() * PIPELINE_STAGES;
        long bySmem = device.sharedMemoryPerSmBytes() / smem;
        long byRegs = REGISTER_FILE_BYTES / ((long) tm * tn * REGISTER_BYTES_PER_ACCUMULATOR);
        long toSaturate = Math.clamp(SATURATING_TILE_ELEMENTS / ((long) tm * tn), 1, MAX_CTAS_PER_SM);
        return (int) Math.max(1, Math.min(toSaturate, Math.min(bySmem, byRegs)));
    }

    /** Wave quantization of the tactic's own tile without split-K: tiles / (waves x SMs x CTAs per SM); 1 when untiled. */
    public double waveEfficiency(Work w, TacticFeatures f, Precision p) {
        if (!f.tiled() || !w.isGemm()) return 1;
        return cut(w, f, p, f.tileM(), f.tileN(), 1).waveEfficiency();
    }

    /** Share of the tactic's own tiles that is real output: M x N / (tiles x tileM x tileN); 1 when untiled. */
    public double tileFill(Work w, TacticFeatures f) {
        if (!f.tiled() || !w.isGemm()) return 1;
        return cut(w, f, Precision.FP16, f.tileM(), f.tileN(), 1).tileFill();
    }

    /** {@link Params#misalignedPenalty} when a tensor-core tactic meets K or N not a multiple of its alignment; else 1. */
    public double alignmentFactor(Work w, TacticFeatures f) {
        if (!f.tensorCores() || f.alignmentElements() <= 1 || !w.isGemm()) return 1;
        return w.gemmK() % f.alignmentElements() != 0 || w.gemmN() % f.alignmentElements() != 0 ? params.misalignedPenalty() : 1;
    }

    /**
     * Cost of changing a tensor's layout (NCHW <-> NHWC) on an edge: one transpose kernel, launched on a stream; nothing
     * where both layouts store the tensor in the same order ({@link org.tessel.api.Layout#sameOrderBothWays}: a view).
     */
    public double reformatUs(TensorType t) { return reformatUs(t, false); }

    public double reformatUs(TensorType t, boolean cudaGraphs) {
        if (org.tessel.api.Layout.sameOrderBothWays(t.shape())) return 0;
        double bytes = 2.0 * t.bytes();
        return bytes / (device.memoryBandwidthGBs() * 1e9 * REFORMAT_MEMORY_EFFICIENCY * params.memoryScale()) * 1e6 + params.kernelLatencyUs() + launchUs(cudaGraphs);
    }

    /** Cost of converting a tensor to another element type on an edge: one streaming kernel; 0 when the type is already {@code to}. */
    public double castUs(TensorType t, DType to) { return castUs(t, to, false); }

    public double castUs(TensorType t, DType to, boolean cudaGraphs) {
        if (t.dtype() == to) return 0;
        double bytes = (double) t.numElements() * (t.dtype().bytes() + to.bytes());
        return bytes / (device.memoryBandwidthGBs() * 1e9 * CAST_MEMORY_EFFICIENCY * params.memoryScale()) * 1e6 + params.kernelLatencyUs() + launchUs(cudaGraphs);
    }

    /**
     * The cost of running work on the host inside an engine for this device (a CPU tactic): on a
     * GPU the inputs and outputs cross PCIe and the stream synchronizes twice; on a CPU spec it
     * is simply the kernel's cost at host rates.
     */
    public Cost hostFallback(String tacticId, Work w, TacticFeatures f, boolean cudaGraphs) {
        if (device.isCpu()) return estimate(tacticId, w, f, Precision.FP32, cudaGraphs);
        Cost onHost = new CostModel(Host.SPEC, params).estimate(tacticId, w, f, Precision.FP32, false);
        // inputs down and outputs up, each a synchronous copy; the host op also splits a CUDA graph
        double transfer = w.bytes() / (PCIE_GBS * 1e9) * 1e6 + 2 * PCIE_LATENCY_US;
        return new Cost(onHost.computeUs(), onHost.memoryUs() + transfer, onHost.launchUs() + 2 * device.launchOverheadUs() * params.launchScale(), 0);
    }

    /** The host spec, read once. */
    private static final class Host { static final DeviceSpec SPEC = DeviceSpec.cpuReference(); }

    static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    @Override public String toString() { return "CostModel(" + device.name() + ", " + params + ")"; }
}
