package org.tessel.runtime.gpu.engine;

/** A graph the GPU engine cannot build or run, with the node, value or input at fault. */
public final class GpuEngineException extends RuntimeException {
    public GpuEngineException(String message) { super(message); }
    public GpuEngineException(String message, Throwable cause) { super(message, cause); }
}
