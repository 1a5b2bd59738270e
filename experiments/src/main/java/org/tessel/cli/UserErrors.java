package org.tessel.cli;

/** Turns an exception into the one line a user sees. */
final class UserErrors {
    private UserErrors() {}

    static String describe(Throwable ex) {
        String msg = ex.getMessage();
        if (ex instanceof java.nio.file.NoSuchFileException) return "no such file: " + msg;
        // an UncheckedIOException made from its cause alone says nothing more than the cause; one with its own message (naming the file) says more
        if (ex instanceof java.io.UncheckedIOException u && u.getCause() != null && (msg == null || msg.equals(u.getCause().toString()))) return describe(u.getCause());
        if (ex instanceof picocli.CommandLine.ExecutionException e && e.getCause() != null && e.getCause() != e) return describe(e.getCause());
        if (ex instanceof OutOfMemoryError) return "out of memory (" + msg + "); give the JVM more with TESSEL_JAVA_OPTS=-Xmx16g";
        if (ex instanceof StackOverflowError) return "the call stack overflowed (a very deep graph?); give the JVM a larger one with TESSEL_JAVA_OPTS=-Xss64m";
        if (msg == null || msg.isBlank()) return ex.getClass().getSimpleName();
        return msg;
    }
}
