package org.tessel.cost;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.function.Supplier;

/**
 * What the cost model knows about a device. The built-in GPUs carry vendor datasheet figures,
 * dense (no 2:4 sparsity): {@code peakTflops} holds the CUDA-core rate for FP32 and the
 * tensor-core rate for TF32, FP16, BF16, INT8 (in TOPS) and, on the GPUs with FP8 tensor cores
 * (sm_89 and later: Ada's L4 and RTX 4090, Hopper's H100 and H200), FP8 E4M3 with FP32
 * accumulation. A spec without an FP8 rate (the A100) cannot run FP8: the search offers no FP8
 * choice for it and {@code PlanCheck} refuses an FP8 plan naming the node. Tactics that do not use tensor
 * cores run at the FP32 CUDA-core rate whatever their storage precision (a conservative choice:
 * such kernels are memory bound almost always).
 *
 * <p>Launch overheads are per kernel on a dependent chain: {@code launchOverheadUs} when the host
 * launches each kernel (stream launches are host-bound at a few microseconds each),
 * {@code graphLaunchOverheadUs} inside a CUDA graph. The datasheets do not give them; every
 * built-in GPU uses the figures measured on the project's H200 (2.53 us and 0.75 us, see
 * {@code devices/h200-measured.properties}), since they are set by the driver and host rather
 * than the chip.
 *
 * <p>A spec named "cpu..." describes the host running CPU tactics; its "SMs" are cores.
 */
public record DeviceSpec(String name, int sms, double boostClockGHz, Map<Precision, Double> peakTflops,
                         double memoryBandwidthGBs, long l2Bytes, long sharedMemoryPerSmBytes,
                         double launchOverheadUs, double graphLaunchOverheadUs) {
    private static final long MiB = 1024L * 1024, KiB = 1024;
    /** Per-kernel launch overheads measured on the project's H200 (stream, CUDA graph), used for every built-in GPU. */
    static final double LAUNCH_US = 2.53, GRAPH_LAUNCH_US = 0.75;

    public DeviceSpec {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("a device spec needs a name");
        check(name, "sms", sms);
        check(name, "boost_clock_ghz", boostClockGHz);
        check(name, "memory_bandwidth_gbs", memoryBandwidthGBs);
        check(name, "l2_bytes", l2Bytes);
        check(name, "shared_memory_per_sm_bytes", sharedMemoryPerSmBytes);
        check(name, "launch_overhead_us", launchOverheadUs);
        check(name, "graph_launch_overhead_us", graphLaunchOverheadUs);
        EnumMap<Precision, Double> peaks = new EnumMap<>(Precision.class);
        peaks.putAll(peakTflops);
        if (!peaks.containsKey(Precision.FP32))
            throw new IllegalArgumentException("device '" + name + "': peak_tflops.fp32 is required (the CUDA-core rate)");
        for (var e : peaks.entrySet()) check(name, "peak_tflops." + e.getKey().text(), e.getValue());
        peakTflops = Collections.unmodifiableMap(peaks);
    }

    private static void check(String device, String key, double v) {
        if (!(v > 0) || Double.isInfinite(v))
            throw new IllegalArgumentException("device '" + device + "': " + key + " must be a positive number, got " + v);
    }

    /** True when this spec describes the host CPU, not a GPU. */
    public boolean isCpu() { return name.toLowerCase(Locale.ROOT).startsWith("cpu"); }

    /** True when the device has a tensor-core (or dedicated) rate for p. */
    public boolean supports(Precision p) { return peakTflops.containsKey(p); }

    /** Peak in TFLOPS for p on tensor cores (FP32: CUDA cores); fails naming the device when it has none. */
    public double peak(Precision p) {
        Double v = peakTflops.get(p);
        if (v == null) throw new IllegalArgumentException("device '" + name + "' has no " + p.text() + " rate (it has " + peakTflops.keySet() + ")");
        return v;
    }

    /** The CUDA-core (or, for the host, vector-unit) FP32 rate in TFLOPS. */
    public double cudaCoreTflops() { return peakTflops.get(Precision.FP32); }

    private static Map<Precision, Double> peaks(double fp32, double tf32, double fp16, double bf16, double int8) {
        EnumMap<Precision, Double> m = new EnumMap<>(Precision.class);
        m.put(Precision.FP32, fp32);
        m.put(Precision.TF32, tf32);
        m.put(Precision.FP16, fp16);
        m.put(Precision.BF16, bf16);
        m.put(Precision.INT8, int8);
        return m;
    }

    /** As above, with an FP8 tensor-core rate (sm_89 and later). */
    private static Map<Precision, Double> peaks(double fp32, double tf32, double fp16, double bf16, double int8, double fp8) {
        Map<Precision, Double> m = peaks(fp32, tf32, fp16, bf16, int8);
        m.put(Precision.FP8, fp8);
        return m;
    }

    /**
     * NVIDIA H100 SXM5 80GB (datasheet, dense): 132 SMs, 1.98 GHz boost, FP32 66.9, TF32 494.7,
     * FP16/BF16 989.4 TFLOPS, INT8 1978.9 TOPS, FP8 1978.9 TFLOPS, HBM3 3.35 TB/s, 50 MB L2, 228 KB shared memory per SM.
     */
    public static DeviceSpec h100Sxm() {
        return new DeviceSpec("h100-sxm", 132, 1.98, peaks(66.9, 494.7, 989.4, 989.4, 1978.9, 1978.9), 3350, 50 * MiB, 228 * KiB, LAUNCH_US, GRAPH_LAUNCH_US);
    }

    /** NVIDIA H200 SXM 141GB (datasheet): the H100 SXM's GH100 compute with HBM3e at 4.8 TB/s. */
    public static DeviceSpec h200() {
        return new DeviceSpec("h200", 132, 1.98, peaks(66.9, 494.7, 989.4, 989.4, 1978.9, 1978.9), 4800, 50 * MiB, 228 * KiB, LAUNCH_US, GRAPH_LAUNCH_US);
    }

    /**
     * NVIDIA A100 80GB SXM4 (datasheet, dense): 108 SMs, 1.41 GHz, FP32 19.5, TF32 156, FP16/BF16
     * 312 TFLOPS, INT8 624 TOPS, no FP8 (sm_80), HBM2e 2039 GB/s, 40 MB L2, 164 KB shared memory per SM.
     */
    public static DeviceSpec a100_80gb() {
        return new DeviceSpec("a100-80gb", 108, 1.41, peaks(19.5, 156, 312, 312, 624), 2039, 40 * MiB, 164 * KiB, LAUNCH_US, GRAPH_LAUNCH_US);
    }

    /**
     * NVIDIA L4 (datasheet, dense: half the sparse figures): 58 SMs, 2.04 GHz, FP32 30.3, TF32 60,
     * FP16/BF16 121 TFLOPS, INT8 242 TOPS, FP8 242 TFLOPS, GDDR6 300 GB/s, 48 MB L2, 100 KB shared memory per SM.
     */
    public static DeviceSpec l4() {
        return new DeviceSpec("l4", 58, 2.04, peaks(30.3, 60, 121, 121, 242, 242), 300, 48 * MiB, 100 * KiB, LAUNCH_US, GRAPH_LAUNCH_US);
    }

    /**
     * NVIDIA GeForce RTX 4090 (Ada whitepaper, dense): 128 SMs, 2.52 GHz, FP32 82.6, TF32 82.6,
     * FP16/BF16 165.2 TFLOPS with FP32 accumulation (GeForce runs it at half the FP16-accumulate
     * rate; inference kernels accumulate in FP32), INT8 660.6 TOPS, FP8 330.3 TFLOPS with FP32
     * accumulation (660.6 with FP16 accumulation), GDDR6X 1008 GB/s, 72 MB L2, 100 KB shared memory per SM.
     */
    public static DeviceSpec rtx4090() {
        return new DeviceSpec("rtx4090", 128, 2.52, peaks(82.6, 82.6, 165.2, 165.2, 660.6, 330.3), 1008, 72 * MiB, 100 * KiB, LAUNCH_US, GRAPH_LAUNCH_US);
    }

    /** The H200 as measured on the project's GPU machine: see {@code devices/h200-measured.properties}. */
    public static DeviceSpec h200Measured() { return loadResource("h200-measured.properties"); }

    /** The H100 as the measured H200 implies it (same die; bandwidth scaled by the datasheets): see {@code devices/h100-derived.properties}. */
    public static DeviceSpec h100Derived() { return loadResource("h100-derived.properties"); }

    /** The host running the reference interpreter (CPU tactics): see {@code devices/cpu-reference.properties}. */
    public static DeviceSpec cpuReference() { return loadResource("cpu-reference.properties"); }

    private static final Map<String, Supplier<DeviceSpec>> BY_NAME = new LinkedHashMap<>();
    static {
        BY_NAME.put("h100", DeviceSpec::h100Sxm);
        BY_NAME.put("h100-sxm", DeviceSpec::h100Sxm);
        BY_NAME.put("h200", DeviceSpec::h200);
        BY_NAME.put("h200-measured", DeviceSpec::h200Measured);
        BY_NAME.put("h100-derived", DeviceSpec::h100Derived);
        BY_NAME.put("a100", DeviceSpec::a100_80gb);
        BY_NAME.put("a100-80gb", DeviceSpec::a100_80gb);
        BY_NAME.put("l4", DeviceSpec::l4);
        BY_NAME.put("rtx4090", DeviceSpec::rtx4090);
        BY_NAME.put("cpu", DeviceSpec::cpuReference);
    }

    /** A built-in spec by name ("h100", "h100-sxm", "h200", "h200-measured", "a100", "l4", "rtx4090", "cpu"), case-insensitive. */
    public static DeviceSpec byName(String name) {
        Supplier<DeviceSpec> s = name == null ? null : BY_NAME.get(name.trim().toLowerCase(Locale.ROOT));
        if (s == null) throw new IllegalArgumentException("unknown device '" + name + "'; known: " + String.join(", ", names()));
        return s.get();
    }

    public static List<String> names() { return List.copyOf(BY_NAME.keySet()); }

    // ---- loading a spec from a properties file ----

    /** The keys a spec file must have (peak_tflops.fp32 among the peaks; other precisions optional). */
    public static final List<String> REQUIRED_KEYS = List.of("name", "sms", "boost_clock_ghz", "peak_tflops.fp32", "memory_bandwidth_gbs",
            "l2_bytes", "shared_memory_per_sm_bytes", "launch_overhead_us", "graph_launch_overhead_us");

    /**
     * Reads a spec from a properties file with the keys of {@link #REQUIRED_KEYS} plus optional
     * {@code peak_tflops.tf32/fp16/bf16/int8/fp8}. Errors name the file and the missing or bad key.
     */
    public static DeviceSpec load(Path file) {
        Properties p = new Properties();
        try {
            p.load(new java.io.StringReader(org.tessel.ir.io.TextFiles.read(file)));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": cannot read device spec: no such file", e);
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e); // names the file: a folder, or not UTF-8 at line N
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": cannot read device spec: " + e.getMessage(), e);
        }
        return fromProperties(p, file.toString());
    }

    private static DeviceSpec loadResource(String file) {
        String res = "devices/" + file;
        try (InputStream in = DeviceSpec.class.getResourceAsStream(res)) {
            if (in == null) throw new IllegalStateException("built-in device spec " + res + " is missing from the class path");
            Properties p = new Properties();
            p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
            return fromProperties(p, res);
        } catch (IOException e) {
            throw new IllegalStateException(res + ": " + e.getMessage(), e);
        }
    }

    /** Builds a spec from properties; {@code where} names the source in error messages. */
    public static DeviceSpec fromProperties(Properties p, String where) {
        List<String> missing = new ArrayList<>();
        for (String k : REQUIRED_KEYS) if (p.getProperty(k) == null || p.getProperty(k).isBlank()) missing.add(k);
        if (!missing.isEmpty()) throw new IllegalArgumentException(where + ": missing key" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing));
        for (String k : p.stringPropertyNames()) {
            boolean known = REQUIRED_KEYS.contains(k) || k.startsWith("peak_tflops.") && Precision.fromText(k.substring(12)).isPresent();
            if (!known) throw new IllegalArgumentException(where + ": unknown key '" + k + "' (known: " + String.join(", ", REQUIRED_KEYS)
                    + ", peak_tflops.tf32, peak_tflops.fp16, peak_tflops.bf16, peak_tflops.int8, peak_tflops.fp8)");
        }
        EnumMap<Precision, Double> peaks = new EnumMap<>(Precision.class);
        for (Precision pr : Precision.values()) {
            String k = "peak_tflops." + pr.text();
            if (p.getProperty(k) != null) peaks.put(pr, number(p, k, where));
        }
        double sms = number(p, "sms", where);
        if (sms != Math.rint(sms)) throw new IllegalArgumentException(where + ": key 'sms' must be a whole number, got '" + p.getProperty("sms").trim() + "'");
        double clock = number(p, "boost_clock_ghz", where), bw = number(p, "memory_bandwidth_gbs", where);
        double l2 = number(p, "l2_bytes", where), smem = number(p, "shared_memory_per_sm_bytes", where);
        double launch = number(p, "launch_overhead_us", where), graph = number(p, "graph_launch_overhead_us", where);
        try {
            return new DeviceSpec(p.getProperty("name").trim(), (int) sms, clock, peaks, bw, (long) l2, (long) smem, launch, graph);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    private static double number(Properties p, String key, String where) {
        String v = p.getProperty(key).trim();
        try {
            double d = Double.parseDouble(v);
            if (!(d > 0) || Double.isInfinite(d)) throw new IllegalArgumentException(where + ": key '" + key + "' must be a positive number, got '" + v + "'");
            return d;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(where + ": key '" + key + "' is not a number: '" + v + "'");
        }
    }

    /** One line: name, SMs, peaks, bandwidth. */
    public String summary() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s: %d SMs @ %.2f GHz,", name, sms, boostClockGHz));
        for (var e : peakTflops.entrySet()) sb.append(String.format(Locale.ROOT, " %s %.1f", e.getKey().text(), e.getValue()));
        return sb.append(String.format(Locale.ROOT, " TFLOPS, %.0f GB/s, L2 %d MiB, launch %.1f us (graph %.1f us)",
                memoryBandwidthGBs, l2Bytes / MiB, launchOverheadUs, graphLaunchOverheadUs)).toString();
    }
}
