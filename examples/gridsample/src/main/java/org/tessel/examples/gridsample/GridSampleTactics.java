package org.tessel.examples.gridsample;

import java.util.EnumSet;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticProvider;

/**
 * The GPU tactic for GridSample (listed in META-INF/services/org.tessel.tactics.TacticProvider):
 * one thread per output element, its CUDA C kernel ({@code gridsample.cu}) in f32, f16 and bf16 over
 * NCHW images. Without it GridSample would run only as {@code cpu.reference} (a host round trip in a
 * GPU engine); with it the joint search prices a GPU kernel.
 */
public final class GridSampleTactics implements TacticProvider {
    public static final String ID = "example.gridsample.cuda";

    @Override public String providerName() { return "example-gridsample"; }

    @Override public List<Tactic> tactics() { return List.of(new Cuda()); }

    static final class Cuda extends BaseTactic implements CudaSourceTactic {
        private final CudaKernel kernel = CudaKernel.ofResource(GridSampleTactics.class, "gridsample.cu", 256, List.of(
                new CudaKernel.Variant(DType.F32, Layout.NCHW, "gridsample_f32_nchw"),
                new CudaKernel.Variant(DType.F16, Layout.NCHW, "gridsample_f16_nchw"),
                new CudaKernel.Variant(DType.BF16, Layout.NCHW, "gridsample_bf16_nchw")));

        Cuda() {
            super(ID, "GridSample, one thread per output (f32/f16/bf16, NCHW): bilinear, nearest, bicubic; zeros, border, reflection",
                    Backend.GPU, EnumSet.of(Precision.FP32, Precision.FP16, Precision.BF16), EnumSet.of(Layout.NCHW));
        }

        @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals("GridSample"); }

        @Override protected String appliesToText() { return "GridSample"; }

        @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
            if (n.input(0).type().rank() != 4) return "the kernel samples 4-D images (got rank " + n.input(0).type().rank() + ")";
            if (l != Layout.NCHW && l != Layout.ANY) return "the kernel reads NCHW images (got " + l.text() + ")";
            return null;
        }

        @Override public long workspaceBytes(Node n, Precision p) { return 0; }

        /** A gather: each output reads its grid point and 1, 4 or 16 scattered pixels, so it streams well below peak bandwidth. */
        @Override public TacticFeatures features(Node n, Precision p, Layout l) {
            return TacticFeatures.streaming(0.4, GridSampleOp.mode(n.attrs()) == GridSampleOp.Mode.BICUBIC ? 0.35 : 0.55, 1);
        }

        @Override public CudaKernel kernel() { return kernel; }

        @Override public long[] kernelArguments(Node n, Precision p) {
            var x = n.input(0).type().shape();
            var y = n.output().type().shape();
            return new long[] {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3), GridSampleOp.alignCorners(n.attrs()) ? 1 : 0,
                    GridSampleOp.mode(n.attrs()).code, GridSampleOp.padding(n.attrs()).code};
        }
    }
}
