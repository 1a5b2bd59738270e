package org.tessel.runtime.cuda;

import static org.tessel.runtime.cuda.CudaException.check;

import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * A CUDA graph made by stream capture and instantiated for replay: the launches (and async
 * copies) issued on the stream while capturing are recorded, not run, and each {@link #launch}
 * replays them with one driver call.
 */
public final class CudaGraph implements AutoCloseable {
    private final CUgraph graph = new CUgraph();
    private final CUgraphExec exec = new CUgraphExec();
    private boolean closed;

    private CudaGraph() {}

    /** Captures what {@code work} issues on {@code stream} (not the default stream) and instantiates it. */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        if (stream == CudaStream.DEFAULT) throw new CudaException("cannot capture the legacy default stream; capture on a stream from CudaStream.create()");
        CudaGraph g = new CudaGraph();
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

    /** Replays the captured work on {@code stream}. */
    public void launch(CudaStream stream) { check("cuGraphLaunch", JCudaDriver.cuGraphLaunch(exec, stream.handle())); }

    @Override public void close() {
        if (closed) return;
        closed = true;
        check("cuGraphExecDestroy", JCudaDriver.cuGraphExecDestroy(exec));
        check("cuGraphDestroy", JCudaDriver.cuGraphDestroy(graph));
    }
}
