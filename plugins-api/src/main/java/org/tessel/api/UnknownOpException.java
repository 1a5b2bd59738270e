package org.tessel.api;

/** An op name no registered provider supplies. */
public class UnknownOpException extends RuntimeException {
    private final String domain;
    private final String opName;

    public UnknownOpException(String domain, String opName, String context) {
        super("unknown op '" + opName + "'" + (domain.isEmpty() ? " (domain ai.onnx)" : " (domain " + domain + ")")
                + (context == null || context.isEmpty() ? "" : " " + context)
                + ": no registered OpProvider supplies it; a plugin can add it through the OpProvider SPI"
                + " (META-INF/services/org.tessel.api.OpProvider)");
        this.domain = domain;
        this.opName = opName;
    }

    public String domain() { return domain; }
    public String opName() { return opName; }
}
