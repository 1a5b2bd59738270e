package org.tessel.api;

/**
 * A failure caused by a plugin or by loading one: a jar that cannot be loaded, two plugins claiming
 * one id, a plugin's code that threw. The message names the plugin (its jar) and says what
 * happened, in one line.
 */
public class PluginException extends RuntimeException {
    public PluginException(String message) { super(message); }
    public PluginException(String message, Throwable cause) { super(message, cause); }
}
