package org.tessel.cost;

import static org.junit.jupiter.api.Assertions.*;

import net.jqwik.api.*;

/** Properties every estimate must have, over random GEMMs, precisions and devices. */
class CostModelPropertiesTest {
    @Provide Arbitrary<DeviceSpec> devices() {
        return Arbitraries.of(DeviceSpec.h100Sxm(), DeviceSpec.h200(), DeviceSpec.a100_80gb(), DeviceSpec.l4(), DeviceSpec.rtx4090(), DeviceSpec.h200Measured());
    }

    @Property(tries = 300)
    void moreRowsNeverTakeLess(@ForAll("devices") DeviceSpec d, @ForAll Precision p, @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 4096) int m,
                               @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 4096) int extra,
                               @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 8192) int n, @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 8192) int k,
                               @ForAll boolean graphs) {
        CostModel model = new CostModel(d);
        TacticFeatures f = new TacticFeatures(0.75, p != Precision.FP32, 128, 128, 32, 8, 0.85, 1);
        int b = p.storage().bytes();
        Cost small = model.estimate(Work.gemm(m, n, k, b), f, p, graphs);
        Cost big = model.estimate(Work.gemm(m + extra, n, k, b), f, p, graphs);
        assertTrue(small.totalUs() <= big.totalUs() * (1 + 1e-12), small + " vs " + big);
        // never faster than the roofline, never cheaper than the launch
        double peak = p == Precision.FP32 || !d.supports(p) ? d.cudaCoreTflops() : d.peak(p); // a precision the device lacks (FP8 before sm_89) runs on CUDA cores, as CostModel prices it
        assertTrue(big.computeUs() >= 2.0 * (m + extra) * n * k / (peak * 1e12) * 1e6 * (1 - 1e-12));
        assertTrue(big.memoryUs() >= (double) b * ((long) (m + extra) * k + (long) k * n + (long) (m + extra) * n) / (d.memoryBandwidthGBs() * 1e9) * 1e6 * (1 - 1e-12));
        assertTrue(big.totalUs() >= model.launchUs(graphs));
        CostModel.KernelShape ks = model.kernelShape(Work.gemm(m, n, k, b), f, p);
        assertTrue(ks.efficiency() > 0 && ks.efficiency() <= 1, ks.toString());
    }
}
