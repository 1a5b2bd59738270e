package org.tessel.runtime.engine;

/** An engine file that cannot be used: corrupt, truncated, foreign, or built for another machine. */
public class EngineFormatException extends RuntimeException {
    public EngineFormatException(String message) { super(message); }
    public EngineFormatException(String message, Throwable cause) { super(message, cause); }
}
