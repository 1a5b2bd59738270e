package org.tessel.runtime.engine;

/** A run that cannot proceed: wrong inputs, or a layer this backend cannot execute. */
public class EngineRunException extends RuntimeException {
    public EngineRunException(String message) { super(message); }
}
