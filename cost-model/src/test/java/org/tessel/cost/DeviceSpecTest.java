package org.tessel.cost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceSpecTest {
    static List<DeviceSpec> gpus() {
        return List.of(DeviceSpec.h100Sxm(), DeviceSpec.h200(), DeviceSpec.a100_80gb(), DeviceSpec.l4(), DeviceSpec.rtx4090(), DeviceSpec.h200Measured());
    }

    @Test void everyGpuSpecIsPositiveAndOrderedByPrecision() {
        for (DeviceSpec d : gpus()) {
            String n = d.name();
            assertTrue(d.sms() > 0 && d.boostClockGHz() > 0.5 && d.boostClockGHz() < 3.5, n);
            for (Precision p : Precision.values()) if (p != Precision.FP8) assertTrue(d.supports(p), n + " has " + p);
            // FP8 tensor cores are sm_89 and later: every built-in GPU but the A100 (the measured H200 has no FP8 timing yet)
            assertEquals(!n.startsWith("a100") && !n.equals("h200-measured"), d.supports(Precision.FP8), n + " FP8");
            if (d.supports(Precision.FP8)) assertTrue(d.peak(Precision.FP8) >= d.peak(Precision.FP16), n + ": FP8 >= FP16");
            assertTrue(d.peak(Precision.TF32) >= d.peak(Precision.FP32), n + ": TF32 >= FP32");
            assertTrue(d.peak(Precision.FP16) >= d.peak(Precision.TF32), n + ": FP16 >= TF32");
            assertTrue(d.peak(Precision.BF16) >= d.peak(Precision.TF32), n + ": BF16 >= TF32");
            assertTrue(d.peak(Precision.INT8) >= d.peak(Precision.FP16), n + ": INT8 >= FP16");
            assertTrue(d.memoryBandwidthGBs() >= 100 && d.memoryBandwidthGBs() <= 10_000, n);
            assertTrue(d.l2Bytes() >= (1 << 20) && d.sharedMemoryPerSmBytes() >= 48 * 1024, n);
            assertTrue(d.graphLaunchOverheadUs() < d.launchOverheadUs(), n + ": CUDA graphs launch cheaper");
            // a machine balance between 10 and 1000 FLOPs per byte at FP16 is what GPUs of this era have
            double balance = d.peak(Precision.FP16) * 1e12 / (d.memoryBandwidthGBs() * 1e9);
            assertTrue(balance > 10 && balance < 1000, n + " balance " + balance);
        }
    }

    @Test void datasheetFiguresAreTheDenseOnes() {
        DeviceSpec h = DeviceSpec.h100Sxm();
        assertEquals(132, h.sms());
        assertEquals(989.4, h.peak(Precision.FP16));
        assertEquals(494.7, h.peak(Precision.TF32));
        assertEquals(66.9, h.peak(Precision.FP32));
        assertEquals(3350, h.memoryBandwidthGBs());
        assertEquals(4800, DeviceSpec.h200().memoryBandwidthGBs());
        assertEquals(312, DeviceSpec.a100_80gb().peak(Precision.FP16));
        assertEquals(121, DeviceSpec.l4().peak(Precision.FP16));
        assertEquals(165.2, DeviceSpec.rtx4090().peak(Precision.FP16));
    }

    @Test void measuredH200SpecCarriesTheMeasurements() {
        DeviceSpec m = DeviceSpec.h200Measured();
        assertEquals("h200-measured", m.name());
        assertEquals(132, m.sms());
        assertEquals(2.53, m.launchOverheadUs());
        assertEquals(0.75, m.graphLaunchOverheadUs());
        // achieved cuBLAS throughput sits below the datasheet peak
        assertTrue(m.peak(Precision.FP16) < DeviceSpec.h200().peak(Precision.FP16));
        assertTrue(m.memoryBandwidthGBs() < DeviceSpec.h200().memoryBandwidthGBs());
    }

    @Test void byNameKnowsAliasesCaseInsensitively() {
        assertEquals("h100-sxm", DeviceSpec.byName("H100").name());
        assertEquals("h100-sxm", DeviceSpec.byName("h100-sxm").name());
        assertEquals("a100-80gb", DeviceSpec.byName("A100").name());
        assertEquals("rtx4090", DeviceSpec.byName("RTX4090").name());
        assertEquals("cpu-reference", DeviceSpec.byName("cpu").name());
        assertTrue(DeviceSpec.byName("cpu").isCpu());
        assertFalse(DeviceSpec.byName("l4").isCpu());
        for (String n : DeviceSpec.names()) assertNotNull(DeviceSpec.byName(n));
        var e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.byName("v100"));
        assertTrue(e.getMessage().contains("unknown device 'v100'") && e.getMessage().contains("h100, h100-sxm, h200"), e.getMessage());
    }

    static final String GOOD = """
            name=lab-gpu
            sms=108
            boost_clock_ghz=1.41
            peak_tflops.fp32=19.5
            peak_tflops.fp16=312
            memory_bandwidth_gbs=2039
            l2_bytes=41943040
            shared_memory_per_sm_bytes=167936
            launch_overhead_us=2.5
            graph_launch_overhead_us=0.8
            """;

    @Test void loadsASpecFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("lab.properties");
        Files.writeString(f, GOOD);
        DeviceSpec d = DeviceSpec.load(f);
        assertEquals("lab-gpu", d.name());
        assertEquals(108, d.sms());
        assertEquals(312, d.peak(Precision.FP16));
        assertFalse(d.supports(Precision.INT8));
        var e = assertThrows(IllegalArgumentException.class, () -> d.peak(Precision.INT8));
        assertTrue(e.getMessage().contains("device 'lab-gpu' has no int8 rate"), e.getMessage());
    }

    @Test void specFileErrorsNameTheKey(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.properties");
        Files.writeString(f, GOOD.replace("memory_bandwidth_gbs=2039\n", "").replace("sms=108\n", ""));
        var e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertEquals(f + ": missing keys sms, memory_bandwidth_gbs", e.getMessage());

        Files.writeString(f, GOOD.replace("peak_tflops.fp16=312", "peak_tflops.fp16=fast"));
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertEquals(f + ": key 'peak_tflops.fp16' is not a number: 'fast'", e.getMessage());

        Files.writeString(f, GOOD.replace("launch_overhead_us=2.5", "launch_overhead_us=-1"));
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertEquals(f + ": key 'launch_overhead_us' must be a positive number, got '-1'", e.getMessage());

        Files.writeString(f, GOOD + "peak_tflops.fp4=1000\n");
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertTrue(e.getMessage().startsWith(f + ": unknown key 'peak_tflops.fp4'"), e.getMessage());
        Files.writeString(f, GOOD + "peak_tflops.fp8=1000\n");
        assertEquals(1000, DeviceSpec.load(f).peak(Precision.FP8));

        Files.writeString(f, GOOD.replace("sms=108", "sms=10.5"));
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertEquals(f + ": key 'sms' must be a whole number, got '10.5'", e.getMessage());

        Files.writeString(f, GOOD.replace("peak_tflops.fp32=19.5\n", ""));
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(f));
        assertEquals(f + ": missing key peak_tflops.fp32", e.getMessage());

        Path none = dir.resolve("absent.properties");
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSpec.load(none));
        assertTrue(e.getMessage().startsWith(none + ": cannot read device spec"), e.getMessage());
    }

    @Test void precisionStorageAndRoundoff() {
        assertEquals(org.tessel.api.DType.F32, Precision.TF32.storage());
        assertEquals(org.tessel.api.DType.F16, Precision.FP16.storage());
        assertEquals(org.tessel.api.DType.I8, Precision.INT8.storage());
        assertTrue(Precision.FP32.relativeError() < Precision.FP16.relativeError());
        assertEquals(Precision.FP16.relativeError(), Precision.TF32.relativeError()); // both keep 10 mantissa bits
        assertTrue(Precision.FP16.relativeError() < Precision.BF16.relativeError());
        assertEquals(Precision.BF16, Precision.fromText("bf16").orElseThrow());
        assertEquals(Precision.FP8, Precision.fromText("fp8").orElseThrow());
        assertEquals(org.tessel.api.DType.F8E4M3, Precision.FP8.storage());
        assertEquals(448, Precision.FP8.quantizedMax());
        assertTrue(Precision.fromText("fp4").isEmpty());
    }

    /** The H100 spec derived from the measured H200's: the same die's compute and launches, the bandwidth scaled by the datasheets. */
    @Test void h100DerivedIsTheMeasuredH200WithTheH100sBandwidth() {
        DeviceSpec h100 = DeviceSpec.byName("h100-derived"), h200 = DeviceSpec.h200Measured();
        org.junit.jupiter.api.Assertions.assertEquals(h200.peakTflops(), h100.peakTflops());
        org.junit.jupiter.api.Assertions.assertEquals(h200.launchOverheadUs(), h100.launchOverheadUs());
        org.junit.jupiter.api.Assertions.assertEquals(h200.memoryBandwidthGBs() * DeviceSpec.h100Sxm().memoryBandwidthGBs() / DeviceSpec.h200().memoryBandwidthGBs(),
                h100.memoryBandwidthGBs(), 1.0);
    }
}
