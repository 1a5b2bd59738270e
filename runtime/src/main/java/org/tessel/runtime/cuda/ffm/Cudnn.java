package org.tessel.runtime.cuda.ffm;

import static org.tessel.runtime.cuda.ffm.Native.C_DOUBLE;
import static org.tessel.runtime.cuda.ffm.Native.C_INT;
import static org.tessel.runtime.cuda.ffm.Native.C_POINTER;
import static org.tessel.runtime.cuda.ffm.Native.C_SIZE_T;
import static org.tessel.runtime.cuda.ffm.Native.callInt;
import static org.tessel.runtime.cuda.ffm.Native.callLong;
import static org.tessel.runtime.cuda.ffm.Native.callPointer;
import static org.tessel.runtime.cuda.ffm.Native.dev;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * cuDNN 9's legacy convolution API through java.lang.foreign: handle, 4-D tensor, filter and
 * convolution descriptors (NCHW or NHWC, groups, pads, strides, dilations, math type), algorithm
 * enumeration ({@code cudnnGetConvolutionForwardAlgorithm_v7}, {@code cudnnFindConvolutionForwardAlgorithmEx}),
 * workspace queries, {@code cudnnConvolutionForward} and {@code cudnnConvolutionBiasActivationForward}; for
 * ConvTranspose {@code cudnnConvolutionBackwardData} (its two general algorithms) and {@code cudnnAddTensor}.
 * The shim libcudnn.so.9 exports these; its sub-libraries are searched too. Enum values are those of
 * cudnn_graph.h / cudnn_cnn.h (cuDNN 9), named at each constant.
 */
public final class Cudnn implements AutoCloseable {
    public static final List<String> SONAMES = List.of("libcudnn.so.9", "libcudnn.so");
    public static final List<String> COMPANIONS = List.of("libcudnn_cnn.so.9", "libcudnn_ops.so.9", "libcudnn_graph.so.9");
    public static final String DISABLES = "cuDNN convolution tactics (cudnn.conv.*, including fused conv + bias + activation)";

    /** cudnnTensorFormat_t: CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1. */
    public enum Format { NCHW(0), NHWC(1); final int code; Format(int c) { code = c; } }

    /**
     * cudnnDataType_t: CUDNN_DATA_FLOAT = 0, CUDNN_DATA_HALF = 2, CUDNN_DATA_INT8 = 3, CUDNN_DATA_INT32 = 4,
     * CUDNN_DATA_BFLOAT16 = 9. INT8 tensors and filters go with NHWC / KRSC and an INT32 convolution
     * compute type (cudnnConvolutionForward's INT8_CONFIG and INT8_EXT_CONFIG).
     */
    public enum DataType { FLOAT(0, 4), HALF(2, 2), BFLOAT16(9, 2), INT8(3, 1), INT32(4, 4); final int code, bytes; DataType(int c, int b) { code = c; bytes = b; } public int bytes() { return bytes; } }

    /** cudnnMathType_t: DEFAULT_MATH = 0, TENSOR_OP_MATH = 1, TENSOR_OP_MATH_ALLOW_CONVERSION = 2, FMA_MATH = 3. */
    public enum MathType { DEFAULT(0), TENSOR_OP(1), TENSOR_OP_ALLOW_CONVERSION(2), FMA(3); final int code; MathType(int c) { code = c; } }

    /** cudnnConvolutionFwdAlgo_t, in enum order (IMPLICIT_GEMM = 0 ... WINOGRAD_NONFUSED = 7). */
    public enum FwdAlgo {
        IMPLICIT_GEMM("cudnn.conv.implicit_gemm"), IMPLICIT_PRECOMP_GEMM("cudnn.conv.implicit_precomp_gemm"), GEMM("cudnn.conv.gemm"),
        DIRECT("cudnn.conv.direct"), FFT("cudnn.conv.fft"), FFT_TILING("cudnn.conv.fft_tiling"), WINOGRAD("cudnn.conv.winograd"),
        WINOGRAD_NONFUSED("cudnn.conv.winograd_nonfused");

        private final String tacticId;
        FwdAlgo(String id) { tacticId = id; }
        public int code() { return ordinal(); }
        /** The catalogue's tactic id for this algorithm. */
        public String tacticId() { return tacticId; }
        public static FwdAlgo of(int code) {
            if (code < 0 || code >= values().length) throw new IllegalArgumentException("unknown cudnnConvolutionFwdAlgo_t " + code);
            return values()[code];
        }
    }

    /**
     * cudnnConvolutionBwdDataAlgo_t CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0 and _1 = 1, the two that take every geometry
     * (FFT, FFT_TILING, WINOGRAD and WINOGRAD_NONFUSED = 2..5 are not offered): variants of {@code cudnn.deconv}.
     */
    public enum BwdDataAlgo {
        ALGO_0("algo_0"), ALGO_1("algo_1");

        private final String variant;
        BwdDataAlgo(String v) { variant = v; }
        public int code() { return ordinal(); }
        /** The variant part of the tactic id ({@code cudnn.deconv/algo_1}). */
        public String variant() { return variant; }
    }

    /** cudnnActivationMode_t: SIGMOID = 0, RELU = 1, TANH = 2, CLIPPED_RELU = 3, ELU = 4, IDENTITY = 5. */
    public enum Activation { SIGMOID(0), RELU(1), TANH(2), CLIPPED_RELU(3), ELU(4), IDENTITY(5); final int code; Activation(int c) { code = c; } }

    /** cudnnConvolutionMode_t CUDNN_CROSS_CORRELATION = 1 (what deep-learning "convolution" means). */
    static final int CROSS_CORRELATION = 1;
    /** cudnnNanPropagation_t CUDNN_PROPAGATE_NAN = 1. */
    static final int PROPAGATE_NAN = 1;
    /** sizeof(cudnnConvolutionFwdAlgoPerf_t): algo, status, float time, size_t memory, determinism, mathType, int reserved[3]. */
    static final long PERF_BYTES = 48;

    private static volatile NativeLibrary library;

    private final NativeLibrary lib;
    private final MethodHandle destroy, setStream, errorString, getVersion,
            createTensor, setTensor4d, destroyTensor, createFilter, setFilter4d, destroyFilter,
            createConv, setConv2d, setGroups, setMath, destroyConv, outputDim, algoMaxCount, getAlgoV7, findAlgoEx,
            workspaceSize, forward, biasActForward, createAct, setAct, destroyAct, bwdDataWorkspace, backwardData, addTensor;
    private final MemorySegment handle;
    private boolean closed;

    private Cudnn(NativeLibrary lib) {
        this.lib = lib;
        MethodHandle create = lib.function("cudnnCreate", FunctionDescriptor.of(C_INT, C_POINTER));
        destroy = lib.function("cudnnDestroy", FunctionDescriptor.of(C_INT, C_POINTER));
        setStream = lib.function("cudnnSetStream", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        errorString = lib.function("cudnnGetErrorString", FunctionDescriptor.of(C_POINTER, C_INT));
        getVersion = lib.function("cudnnGetVersion", FunctionDescriptor.of(C_SIZE_T));
        createTensor = lib.function("cudnnCreateTensorDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        setTensor4d = lib.function("cudnnSetTensor4dDescriptor", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_INT, C_INT, C_INT, C_INT));
        destroyTensor = lib.function("cudnnDestroyTensorDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        createFilter = lib.function("cudnnCreateFilterDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        setFilter4d = lib.function("cudnnSetFilter4dDescriptor", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_INT, C_INT, C_INT, C_INT));
        destroyFilter = lib.function("cudnnDestroyFilterDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        createConv = lib.function("cudnnCreateConvolutionDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        setConv2d = lib.function("cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_INT, C_INT, C_INT, C_INT, C_INT, C_INT));
        setGroups = lib.function("cudnnSetConvolutionGroupCount", FunctionDescriptor.of(C_INT, C_POINTER, C_INT));
        setMath = lib.function("cudnnSetConvolutionMathType", FunctionDescriptor.of(C_INT, C_POINTER, C_INT));
        destroyConv = lib.function("cudnnDestroyConvolutionDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        outputDim = lib.function("cudnnGetConvolution2dForwardOutputDim", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER));
        algoMaxCount = lib.function("cudnnGetConvolutionForwardAlgorithmMaxCount", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER));
        getAlgoV7 = lib.function("cudnnGetConvolutionForwardAlgorithm_v7", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER, C_POINTER));
        findAlgoEx = lib.function("cudnnFindConvolutionForwardAlgorithmEx", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER,
                C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER, C_POINTER, C_POINTER, C_SIZE_T));
        workspaceSize = lib.function("cudnnGetConvolutionForwardWorkspaceSize", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER));
        forward = lib.function("cudnnConvolutionForward", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER,
                C_POINTER, C_INT, C_POINTER, C_SIZE_T, C_POINTER, C_POINTER, C_POINTER));
        biasActForward = lib.function("cudnnConvolutionBiasActivationForward", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER,
                C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER, C_SIZE_T, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER));
        bwdDataWorkspace = lib.function("cudnnGetConvolutionBackwardDataWorkspaceSize", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_INT, C_POINTER));
        backwardData = lib.function("cudnnConvolutionBackwardData", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER,
                C_POINTER, C_INT, C_POINTER, C_SIZE_T, C_POINTER, C_POINTER, C_POINTER));
        addTensor = lib.function("cudnnAddTensor", FunctionDescriptor.of(C_INT, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER, C_POINTER));
        createAct = lib.function("cudnnCreateActivationDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        setAct = lib.function("cudnnSetActivationDescriptor", FunctionDescriptor.of(C_INT, C_POINTER, C_INT, C_INT, C_DOUBLE));
        destroyAct = lib.function("cudnnDestroyActivationDescriptor", FunctionDescriptor.of(C_INT, C_POINTER));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment slot = a.allocate(C_POINTER);
            check("cudnnCreate", callInt(create, slot));
            handle = slot.get(C_POINTER, 0);
        }
    }

    static NativeLibrary library() {
        NativeLibrary l = library;
        if (l == null) {
            synchronized (Cudnn.class) {
                if (library == null) library = NativeLibrary.load("cuDNN 9", DISABLES, SONAMES, COMPANIONS);
                l = library;
            }
        }
        return l;
    }

    /** A new cuDNN handle (cudnnCreate); throws {@link MissingLibraryException} without cuDNN 9. */
    public static Cudnn create() { return new Cudnn(library()); }

    public NativeLibrary nativeLibrary() { return lib; }

    void check(String call, int status) {
        if (status != 0) throw new CudnnException(call, status, Native.cString(callPointer(errorString, status)));
    }

    /** cudnnGetVersion, e.g. 91400 for 9.14.0. */
    public long version() { return callLong(getVersion); }

    public void setStream(long stream) { check("cudnnSetStream", callInt(setStream, handle, dev(stream))); }

    private MemorySegment create(MethodHandle h, String call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment slot = a.allocate(C_POINTER);
            check(call, callInt(h, slot));
            return slot.get(C_POINTER, 0);
        }
    }

    /** A 4-D tensor descriptor; dimensions are always given as N, C, H, W whatever the format. */
    public final class TensorDesc implements AutoCloseable {
        final MemorySegment desc;
        final int n, c, h, w;
        final DataType type;
        private boolean done;

        TensorDesc(Format f, DataType t, int n, int c, int h, int w) {
            desc = create(createTensor, "cudnnCreateTensorDescriptor");
            this.n = n; this.c = c; this.h = h; this.w = w; this.type = t;
            check("cudnnSetTensor4dDescriptor(" + f + ", " + t + ", " + n + "x" + c + "x" + h + "x" + w + ")", callInt(setTensor4d, desc, f.code, t.code, n, c, h, w));
        }

        public long elements() { return (long) n * c * h * w; }
        @Override public void close() { if (!done) { done = true; callInt(destroyTensor, desc); } }
    }

    /** A filter descriptor for K output channels, C/groups input channels, R x S taps (KCRS or KRSC). */
    public final class FilterDesc implements AutoCloseable {
        final MemorySegment desc;
        private boolean done;

        FilterDesc(DataType t, Format f, int k, int c, int r, int s) {
            desc = create(createFilter, "cudnnCreateFilterDescriptor");
            check("cudnnSetFilter4dDescriptor(" + t + ", " + f + ", " + k + "x" + c + "x" + r + "x" + s + ")", callInt(setFilter4d, desc, t.code, f.code, k, c, r, s));
        }

        @Override public void close() { if (!done) { done = true; callInt(destroyFilter, desc); } }
    }

    /** A 2-D cross-correlation descriptor. */
    public final class ConvDesc implements AutoCloseable {
        final MemorySegment desc;
        private boolean done;

        ConvDesc(int padH, int padW, int strideH, int strideW, int dilH, int dilW, DataType compute, int groups, MathType math) {
            desc = create(createConv, "cudnnCreateConvolutionDescriptor");
            check("cudnnSetConvolution2dDescriptor(pads " + padH + "," + padW + " strides " + strideH + "," + strideW + " dilations " + dilH + "," + dilW + ")",
                    callInt(setConv2d, desc, padH, padW, strideH, strideW, dilH, dilW, CROSS_CORRELATION, compute.code));
            check("cudnnSetConvolutionGroupCount(" + groups + ")", callInt(setGroups, desc, groups));
            check("cudnnSetConvolutionMathType(" + math + ")", callInt(setMath, desc, math.code));
        }

        @Override public void close() { if (!done) { done = true; callInt(destroyConv, desc); } }
    }

    /** An activation descriptor for the fused conv + bias + activation call. */
    public final class ActivationDesc implements AutoCloseable {
        final MemorySegment desc;
        final Activation mode;
        private boolean done;

        ActivationDesc(Activation mode, double coef) {
            this.mode = mode;
            desc = create(createAct, "cudnnCreateActivationDescriptor");
            check("cudnnSetActivationDescriptor(" + mode + ")", callInt(setAct, desc, mode.code, PROPAGATE_NAN, coef));
        }

        @Override public void close() { if (!done) { done = true; callInt(destroyAct, desc); } }
    }

    public TensorDesc tensor(Format f, DataType t, int n, int c, int h, int w) { return new TensorDesc(f, t, n, c, h, w); }
    public FilterDesc filter(DataType t, Format f, int k, int c, int r, int s) { return new FilterDesc(t, f, k, c, r, s); }
    public ConvDesc convolution(int padH, int padW, int strideH, int strideW, int dilH, int dilW, DataType compute, int groups, MathType math) {
        return new ConvDesc(padH, padW, strideH, strideW, dilH, dilW, compute, groups, math);
    }
    public ActivationDesc activation(Activation mode, double coef) { return new ActivationDesc(mode, coef); }

    /** The output dimensions N, C, H, W cuDNN computes for a convolution. */
    public int[] outputDim(ConvDesc conv, TensorDesc x, FilterDesc w) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(C_INT, 4);
            check("cudnnGetConvolution2dForwardOutputDim", callInt(outputDim, conv.desc, x.desc, w.desc,
                    d.asSlice(0, 4), d.asSlice(4, 4), d.asSlice(8, 4), d.asSlice(12, 4)));
            return d.toArray(C_INT);
        }
    }

    /** One entry of an algorithm enumeration (cudnnConvolutionFwdAlgoPerf_t). */
    public record AlgoPerf(FwdAlgo algo, int status, float timeMs, long workspaceBytes, boolean deterministic, MathType mathType) {
        public boolean ok() { return status == 0; }
    }

    private List<AlgoPerf> perfs(MemorySegment buf, int count) {
        List<AlgoPerf> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            MemorySegment r = buf.asSlice(i * PERF_BYTES, PERF_BYTES);
            int math = r.get(ValueLayout.JAVA_INT, 28);
            out.add(new AlgoPerf(FwdAlgo.of(r.get(ValueLayout.JAVA_INT, 0)), r.get(ValueLayout.JAVA_INT, 4), r.get(ValueLayout.JAVA_FLOAT, 8),
                    r.get(ValueLayout.JAVA_LONG, 16), r.get(ValueLayout.JAVA_INT, 24) == 1,
                    math >= 0 && math < MathType.values().length ? MathType.values()[math] : MathType.DEFAULT));
        }
        return out;
    }

    private int maxAlgos() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(C_INT);
            check("cudnnGetConvolutionForwardAlgorithmMaxCount", callInt(algoMaxCount, handle, n));
            return Math.max(1, n.get(C_INT, 0));
        }
    }

    /** cuDNN's heuristic ranking of every forward algorithm (no timing; statuses say which apply). */
    public List<AlgoPerf> heuristicAlgorithms(TensorDesc x, FilterDesc w, ConvDesc conv, TensorDesc y) {
        int max = maxAlgos();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(PERF_BYTES * max, 8), n = a.allocate(C_INT);
            check("cudnnGetConvolutionForwardAlgorithm_v7", callInt(getAlgoV7, handle, x.desc, w.desc, conv.desc, y.desc, max, n, buf));
            return perfs(buf, n.get(C_INT, 0));
        }
    }

    /** Times every forward algorithm on the given buffers (y is overwritten), fastest first. */
    public List<AlgoPerf> findAlgorithms(TensorDesc x, long xPtr, FilterDesc w, long wPtr, ConvDesc conv, TensorDesc y, long yPtr, long workspace, long workspaceBytes) {
        int max = maxAlgos();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(PERF_BYTES * max, 8), n = a.allocate(C_INT);
            check("cudnnFindConvolutionForwardAlgorithmEx", callInt(findAlgoEx, handle, x.desc, dev(xPtr), w.desc, dev(wPtr), conv.desc, y.desc, dev(yPtr),
                    max, n, buf, dev(workspace), workspaceBytes));
            return perfs(buf, n.get(C_INT, 0));
        }
    }

    /** Workspace bytes algorithm {@code algo} needs for this convolution. */
    public long workspaceSize(TensorDesc x, FilterDesc w, ConvDesc conv, TensorDesc y, FwdAlgo algo) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(C_SIZE_T);
            check("cudnnGetConvolutionForwardWorkspaceSize(" + algo + ")", callInt(workspaceSize, handle, x.desc, w.desc, conv.desc, y.desc, algo.code(), n));
            return n.get(C_SIZE_T, 0);
        }
    }

    /** y = alpha conv(x, w) + beta y. */
    public void forward(float alpha, TensorDesc x, long xPtr, FilterDesc w, long wPtr, ConvDesc conv, FwdAlgo algo,
                        long workspace, long workspaceBytes, float beta, TensorDesc y, long yPtr) {
        try (Arena a = Arena.ofConfined()) {
            check("cudnnConvolutionForward(" + algo + ")", callInt(forward, handle, a.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), x.desc, dev(xPtr), w.desc, dev(wPtr),
                    conv.desc, algo.code(), dev(workspace), workspaceBytes, a.allocateFrom(ValueLayout.JAVA_FLOAT, beta), y.desc, dev(yPtr)));
        }
    }

    /**
     * y = act(alpha1 conv(x, w) + alpha2 z + bias); z may be y itself (with alpha2 = 0 for no
     * residual). cuDNN allows only RELU, or IDENTITY with IMPLICIT_PRECOMP_GEMM.
     */
    public void convBiasActivation(float alpha1, TensorDesc x, long xPtr, FilterDesc w, long wPtr, ConvDesc conv, FwdAlgo algo,
                                   long workspace, long workspaceBytes, float alpha2, TensorDesc z, long zPtr,
                                   TensorDesc bias, long biasPtr, ActivationDesc act, TensorDesc y, long yPtr) {
        try (Arena a = Arena.ofConfined()) {
            check("cudnnConvolutionBiasActivationForward(" + algo + ", " + act.mode + ")", callInt(biasActForward, handle,
                    a.allocateFrom(ValueLayout.JAVA_FLOAT, alpha1), x.desc, dev(xPtr), w.desc, dev(wPtr), conv.desc, algo.code(),
                    dev(workspace), workspaceBytes, a.allocateFrom(ValueLayout.JAVA_FLOAT, alpha2), z.desc, dev(zPtr),
                    bias.desc, dev(biasPtr), act.desc, y.desc, dev(yPtr)));
        }
    }

    /** Workspace bytes backward-data algorithm {@code algo} needs (dx from dy through the filter w). */
    public long backwardDataWorkspaceSize(FilterDesc w, TensorDesc dy, ConvDesc conv, TensorDesc dx, BwdDataAlgo algo) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(C_SIZE_T);
            check("cudnnGetConvolutionBackwardDataWorkspaceSize(" + algo + ")", callInt(bwdDataWorkspace, handle, w.desc, dy.desc, conv.desc, dx.desc, algo.code(), n));
            return n.get(C_SIZE_T, 0);
        }
    }

    /** dx = alpha convT(dy, w) + beta dx: the gradient of the convolution's input, which is ConvTranspose of dy. */
    public void backwardData(float alpha, FilterDesc w, long wPtr, TensorDesc dy, long dyPtr, ConvDesc conv, BwdDataAlgo algo,
                             long workspace, long workspaceBytes, float beta, TensorDesc dx, long dxPtr) {
        try (Arena a = Arena.ofConfined()) {
            check("cudnnConvolutionBackwardData(" + algo + ")", callInt(backwardData, handle, a.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), w.desc, dev(wPtr),
                    dy.desc, dev(dyPtr), conv.desc, algo.code(), dev(workspace), workspaceBytes, a.allocateFrom(ValueLayout.JAVA_FLOAT, beta), dx.desc, dev(dxPtr)));
        }
    }

    /** c = alpha a + beta c, a broadcast over c (a bias [1, C, 1, 1] over [N, C, H, W]). */
    public void addTensor(float alpha, TensorDesc aDesc, long aPtr, float beta, TensorDesc cDesc, long cPtr) {
        try (Arena a = Arena.ofConfined()) {
            check("cudnnAddTensor", callInt(addTensor, handle, a.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), aDesc.desc, dev(aPtr),
                    a.allocateFrom(ValueLayout.JAVA_FLOAT, beta), cDesc.desc, dev(cPtr)));
        }
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cudnnDestroy", callInt(destroy, handle));
    }
}
