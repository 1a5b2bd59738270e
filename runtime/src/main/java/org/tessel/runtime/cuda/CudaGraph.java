package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA graph made by stream capture and instantiated for replay: the launches (and async
 * copies) issued on the stream while capturing are recorded, not run, and each {@link #launch}
 * replays them with one driver call. On the emulated device the graph is the list of that work in
 * the order it was issued (on the captured stream and on the streams that joined the capture by
 * waiting on an event recorded in it), which a launch runs in that order.
 */
public final class CudaGraph implements AutoCloseable {
    private final CUgraph graph;
    private final CUgraphExec exec;
    /** The emulated graph's work, the streams it captured, and whether capture is under way. */
    private final List<Runnable> work = new ArrayList<>();
    private final List<CudaStream> captured = new ArrayList<>();
    private boolean capturing;
    private boolean closed;

    private CudaGraph(boolean emulated) {
        this.graph = emulated ? null : new CUgraph();
        this.exec = emulated ? null : new CUgraphExec();
    }

    /** Captures what {@code work} issues on {@code stream} (not the default stream) and instantiates it. */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        if (stream == CudaStream.DEFAULT) throw new CudaException("cannot capture the legacy default stream; capture on a stream from CudaStream.create()");
        if (stream.isEmulated()) return captureEmulated(stream, work);
        CudaGraph g = new CudaGraph(false);
        check("cuStreamBeginCapture", JCudaDriver.cuStreamBeginCapture(stream.handle(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
        RuntimeException failure = null;
        try {
            work.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        int end = JCudaDriver.cuStreamEndCapture(stream.handle(), g.graph);
        if (failure != null) throw failure;
        check("cuStreamEndCapture", end);
        check("cuGraphInstantiate", JCudaDriver.cuGraphInstantiate(g.exec, g.graph, 0));
        return g;
    }

    private static CudaGraph captureEmulated(CudaStream stream, Runnable work) {
        if (stream.capture != null) throw new CudaException("cuStreamBeginCapture on a stream that is already being captured", jcuda.driver.CUresult.CUDA_ERROR_ILLEGAL_STATE);
        CudaGraph g = new CudaGraph(true);
        g.capturing = true;
        g.join(stream);
        try {
            work.run();
        } finally {
            g.capturing = false;
            for (CudaStream s : g.captured) s.capture = null;
        }
        return g;
    }

    boolean isCapturing() { return capturing; }

    /** Adds an emulated stream to this capture (it waited on an event recorded under it). */
    void join(CudaStream s) {
        s.capture = this;
        captured.add(s);
    }

    void record(Runnable w) { work.add(w); }

    /** Replays the captured work on {@code stream}. */
    public void launch(CudaStream stream) {
        if (graph == null) {
            if (closed) throw new IllegalStateException("CUDA graph launched after close");
            stream.emulate(() -> { for (Runnable w : work) w.run(); });
            return;
        }
        check("cuGraphLaunch", JCudaDriver.cuGraphLaunch(exec, stream.handle()));
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (graph == null) {
            work.clear();
            return;
        }
        check("cuGraphExecDestroy", JCudaDriver.cuGraphExecDestroy(exec));
        check("cuGraphDestroy", JCudaDriver.cuGraphDestroy(graph));
    }
}
