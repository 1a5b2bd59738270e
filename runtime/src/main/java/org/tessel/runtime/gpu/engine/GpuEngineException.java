package org.tessel.runtime.gpu.engine;

import org.tessel.ir.Node;

/** A graph the GPU engine cannot build or run, with the node, value or input at fault. */
public final class GpuEngineException extends RuntimeException {
    public GpuEngineException(String message) { super(message); }
    public GpuEngineException(String message, Throwable cause) { super(message, cause); }

    /** A node some tactic cannot run, and why. */
    public static GpuEngineException unsupported(Node n, String why) {
        return new GpuEngineException("cannot build a GPU engine: " + n.describe() + ": " + why);
    }
}
