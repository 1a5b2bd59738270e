package org.tessel.tactics.conv;

import java.util.EnumSet;
import java.util.Set;
import org.tessel.api.Layout;
import org.tessel.cost.Cost;
import org.tessel.cost.CostModel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.cost.Work;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.BaseTactic;
import org.tessel.tactics.NodeFacts;
import org.tessel.tactics.NodeFacts.ConvGeometry;

/**
 * A 2-D NHWC convolution of one group as two launches: Tessel's im2col kernel gathers the input into the matrix [N*OH*OW,
 * K] (K = KH*KW*C, padded to 16 columns; row per output pixel, column per filter tap and input channel) in the stream's
 * workspace, and cuBLASLt's matmul multiplies it with the filters reordered to [Cout, K], the bias and ReLU in its
 * epilogue and a residual as C with beta = 1, as {@code cublaslt.conv1x1} does for a 1x1 convolution.
 *
 * <p>Why: at small batch cuDNN's fused call runs a convolution with few output pixels on few CTAs (its forward
 * convolutions do not split K): an H100 ran ResNet-50's 3x3 convolutions at batch 1 in 5.3 (56x56), 6.7, 7.8 and 11.3 us
 * (7x7x512, M = 49 pixels, K = 4608) in the FP16 engine (2026-12-07), where the weights alone read in 1.6 us. cuBLASLt
 * splits K over the SMs; the gather costs a second launch and M x K x 2 bytes written and read again. The cost model
 * prices both, and the measuring tuner times this tactic against cuDNN's.
 *
 * <p>Takes: Conv and fused conv_bias_act (Conv, a residual Add, Relu in the epilogue; Clip, Sigmoid, Tanh, HardSigmoid,
 * HardSwish, LeakyRelu or Gelu as the activation kernel after it), 2-D, any kernel, strides, pads and dilations but
 * a 1x1, stride-1, unpadded one (its input already is the matrix: {@code cublaslt.conv1x1}), one group, constant filters and bias, NHWC, FP16 and BF16; input and output channels multiples of 8 (the gather's 16-byte
 * copies, the tensor cores' alignment); an im2col matrix of at most {@value #MAX_MATRIX_BYTES} bytes an image (a batch is
 * gathered and multiplied in slices of whole images of about {@value #SLICE_BYTES} bytes, each slice's matrix in L2).
 * And INT8 as
 * {@code cublaslt.conv1x1} takes it: the matrix holds x's int8 codes (a byte an element; zero, the symmetric
 * quantization's zero point, in the padding), channels multiples of 4. And FP8 as {@code cublaslt.conv1x1} takes it: the
 * matrix holds x's e4m3 codes, rows and columns padded to 16, so a 1x1 convolution whose channels or pixels are not
 * multiples of 16 runs here too.
 */
public final class ConvIm2colGemmTactic extends BaseTactic {
    /** The catalogue id. */
    public static final String ID = "cublaslt.conv.im2col";
    /** The im2col matrix's columns are padded to a multiple of this (the runtime's Im2col.ALIGN). */
    public static final int K_ALIGN = 16;
    /** The largest im2col matrix of one image the tactic takes (bytes of workspace). */
    public static final long MAX_MATRIX_BYTES = 256L << 20;
    /**
     * The matrix is gathered and multiplied in slices of whole images of about this many bytes (the runtime's
     * Im2col.Slicing), well inside the 50 MB L2 of an H100 or H200: the gather's writes and the matmul's reads of a slice
     * meet in L2, and the slices reuse the same workspace lines.
     */
    public static final long SLICE_BYTES = 24L << 20;
    /** The matrix's traffic (written by the gather, read by the matmul, in L2) priced at this share of the same bytes through memory. */
    static final double L2_SHARE = 0.4;
    /** The gather: a copy kernel's share of bandwidth (reads strided by taps, writes contiguous). */
    static final double GATHER_MEMORY_EFFICIENCY = 0.6;

    private static final Set<String> CONV = Set.of("Conv");

    public ConvIm2colGemmTactic() {
        super(ID, "2-D NHWC convolution as Tessel's im2col gather then cuBLASLt's matmul over the pixels (split-K for few pixels; bias and ReLU in the epilogue, a residual as C)",
                Backend.GPU, EnumSet.of(Precision.FP16, Precision.BF16, Precision.INT8, Precision.FP8), EnumSet.of(Layout.NHWC));
    }

    @Override public boolean appliesTo(Node n) { return NodeFacts.isConvOrConvBiasAct(n); }

    @Override protected String appliesToText() { return "Conv and fused conv_bias_act"; }

    @Override protected String shapeWhyNot(Node n, Precision p, Layout l) {
        Node conv = NodeFacts.anchor(n, CONV);
        ConvGeometry g = ConvGeometry.of(conv);
        String planar = NodeFacts.planarWhyNot(conv, g);
        if (planar != null) return planar;
        if (Conv1x1GemmTactic.takes(conv, g, p))
            return "a 1x1, stride-1, unpadded convolution needs no gather: its input is the matrix (" + Conv1x1GemmTactic.ID + " runs it)";
        String matmul = Conv1x1GemmTactic.matmulWhyNot(n, conv, g, p);
        if (matmul != null) return matmul;
        long bytes = matrixBytes(conv, p) / Math.max(1, conv.input(0).type().shape().dim(0));
        if (bytes > MAX_MATRIX_BYTES) return "its im2col matrix of one image takes " + (bytes >> 20) + " MiB of workspace, more than " + (MAX_MATRIX_BYTES >> 20) + " MiB";
        return null;
    }

    /** Bytes of the im2col matrix of convolution {@code conv} at {@code p} (a byte an element at INT8 and FP8, else two): output pixels x K padded to 16. */
    static long matrixBytes(Node conv, Precision p) {
        long[] g = Work.gemmDims(conv);
        return elementBytes(p) * g[0] * paddedK(g[2]);
    }

    private static long elementBytes(Precision p) { return p == Precision.INT8 || p == Precision.FP8 ? 1 : 2; }

    static long paddedK(long k) { return (k + K_ALIGN - 1) / K_ALIGN * K_ALIGN; }

    /** cuBLASLt's workspace and one slice's matrix: the whole matrix when it is under {@link #SLICE_BYTES}, else about that (at least an image's). */
    @Override public long workspaceBytes(Node n, Precision p) {
        Node conv = NodeFacts.anchor(n, CONV);
        long all = matrixBytes(conv, p), image = all / Math.max(1, conv.input(0).type().shape().dim(0));
        return Conv1x1GemmTactic.WORKSPACE + Math.min(all, Math.max(image, SLICE_BYTES));
    }

    /** About how many slices the runtime gathers the matrix in: one per {@link #SLICE_BYTES} of matrix (whole images). */
    static int slices(Node conv, Precision p) {
        long all = matrixBytes(conv, p), image = all / Math.max(1, conv.input(0).type().shape().dim(0));
        return (int) Math.max(1, (all + Math.max(image, SLICE_BYTES) - 1) / Math.max(image, SLICE_BYTES));
    }

    @Override public TacticFeatures features(Node n, Precision p, Layout l) {
        return new TacticFeatures(Conv1x1GemmTactic.TENSOR_EFFICIENCY, true, Conv1x1GemmTactic.TILE_M, Conv1x1GemmTactic.TILE_N, Conv1x1GemmTactic.TILE_K, Conv1x1GemmTactic.alignment(p),
                Conv1x1GemmTactic.MEMORY_EFFICIENCY, 2 + Conv1x1GemmTactic.extraLaunches(n, p)).withStreamK(true);
    }

    /**
     * The matmul over the im2col matrix (its A operand M x K padded, read in place of x) plus the gather before it (x read,
     * the matrix written), each priced by the model, the matrix's bytes at {@link #L2_SHARE} (they meet in L2); the
     * gather's time adds to the matmul's as a launch of its own does, once per slice. At INT8 the matmul's output is
     * weighted as cuBLASLt's IMMA form writes it ({@link org.tessel.tactics.gemm.ImmaOutput}).
     */
    @Override public Cost cost(CostModel model, Node n, Precision p, Layout l, boolean cudaGraphs) {
        Node conv = NodeFacts.anchor(n, CONV);
        Work node = Work.of(n, p);
        long[] g = Work.gemmDims(conv);
        double col = L2_SHARE * matrixBytes(conv, p), x = (double) elementBytes(p) * conv.input(0).type().numElements();
        Work gemm = Conv1x1GemmTactic.int8Priced(new Work(node.flops(), Math.max(0, node.bytesRead() - x) + col, node.bytesWritten(), g[0], g[1], paddedK(g[2])), n, p);
        TacticFeatures f = features(n, p, l);
        int slices = slices(conv, p);
        Cost matmul = model.estimate(id(), gemm, new TacticFeatures(f.peakEfficiency(), true, f.tileM(), f.tileN(), f.tileK(), f.alignmentElements(), f.memoryEfficiency(),
                f.kernelLaunches() - 2 + slices, f.maxSplitK(), f.streamK()), p, cudaGraphs);
        Cost gather = model.estimate(id() + "/im2col", new Work(0, x, col, 0, 0, 0), new TacticFeatures(1.0, false, 0, 0, 0, 1, GATHER_MEMORY_EFFICIENCY, slices), p, cudaGraphs);
        return new Cost(matmul.computeUs(), matmul.memoryUs(), matmul.launchUs() + gather.totalUs(), workspaceBytes(n, p));
    }
}
