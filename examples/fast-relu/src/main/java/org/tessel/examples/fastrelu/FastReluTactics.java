package org.tessel.examples.fastrelu;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.Tactic;
import org.tessel.tactics.TacticProvider;

/**
 * A second GPU tactic for Relu, an op Tessel already runs ({@code tessel.eltwise}, or fused into a
 * convolution or GEMM epilogue): f16/bf16 only, 8 elements per 16-byte access, so it streams closer
 * to peak bandwidth than the generic elementwise kernel, but only where the element count is a
 * multiple of 8. It competes in the joint search on price: it takes standalone 16-bit Relus, and
 * loses wherever fusing the Relu into its producer costs less than running it alone.
 *
 * <p>Measured (H100, 2026-12-06, the measuring search with {@code --tuning all}, 1.6 M elements): 5.70 us at FP16
 * against {@code tessel.eltwise}'s 2.88 us, so the measured plan took {@code tessel.eltwise}. The engine then launched
 * one thread per element, and 7 of 8 threads had no vector to move; the kernel now declares 8 elements a thread
 * ({@link CudaKernel#withElementsPerThread}), which has not yet been timed on a GPU.
 */
public final class FastReluTactics implements TacticProvider {
    public static final String ID = "example.relu.half8";

    @Override public String providerName() { return "example-fast-relu"; }

    @Override public List<Tactic> tactics() { return List.of(new Half8()); }

    static final class Half8 extends BaseTactic implements CudaSourceTactic {
        private final CudaKernel kernel = CudaKernel.ofResource(FastReluTactics.class, "relu8.cu", 256, variants()).withElementsPerThread(8);

        private static List<CudaKernel.Variant> variants() {
            List<CudaKernel.Variant> v = new ArrayList<>();
            for (Layout l : List.of(Layout.ANY, Layout.NCHW, Layout.NHWC)) {
                v.add(new CudaKernel.Variant(DType.F16, l, "relu_f16x8"));
                v.add(new CudaKernel.Variant(DType.BF16, l, "relu_bf16x8"));
            }
            return v;
        }

        Half8() {
            super(ID, "Relu on f16/bf16, 8 elements per 16-byte load and store (element count a multiple of 8)", Backend.GPU,
                    EnumSet.of(Precision.FP16, Precision.BF16), EnumSet.of(Layout.ANY, Layout.NCHW, Layout.NHWC));
        }

        @Override public boolean appliesTo(Node n) { return n.body() == null && n.opName().equals("Relu"); }

        @Override protected String appliesToText() { return "Relu"; }

        @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
            Value x = n.input(0);
            if (!x.type().dtype().isFloating()) return "reads floating tensors (got " + x.type().dtype().text() + ")";
            long count = x.type().numElements();
            if (count % 8 != 0) return "moves 8 elements at a time: the element count must be a multiple of 8 (got " + count + ")";
            return null;
        }

        @Override public long workspaceBytes(Node n, Precision p) { return 0; }

        /** tessel.eltwise streams at 0.85 of peak bandwidth; full 16-byte accesses reach 0.93. The launch is the same. */
        @Override public TacticFeatures features(Node n, Precision p, Layout l) { return TacticFeatures.streaming(0.5, 0.93, 1); }

        @Override public CudaKernel kernel() { return kernel; }

        @Override public long[] kernelArguments(Node n, Precision p) { return new long[0]; }
    }
}
