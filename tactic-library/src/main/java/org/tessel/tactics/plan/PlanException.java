package org.tessel.tactics.plan;

/** A plan that cannot be read, checked or honoured; the message names the file, key or node. */
public class PlanException extends RuntimeException {
    public PlanException(String message) { super(message); }

    public PlanException(String message, Throwable cause) { super(message, cause); }
}
