package org.tessel.runtime.cuda.ffm;

/** NVRTC rejected a program: carries the program name, the status and the compiler's log. */
public final class NvrtcException extends RuntimeException {
    private final String log;

    public NvrtcException(String message, String log) {
        super(message + (log == null || log.isBlank() ? "" : "\n--- NVRTC log ---\n" + log.strip()));
        this.log = log == null ? "" : log;
    }

    public String log() { return log; }
}
