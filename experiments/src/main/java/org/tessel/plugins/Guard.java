package org.tessel.plugins;

import java.util.function.Supplier;
import org.tessel.api.OpException;
import org.tessel.api.PluginException;

/** Runs a plugin's code and turns what it throws into one line naming the plugin (and what it was doing). */
final class Guard {
    private Guard() {}

    /** "NullPointerException: msg", or the class alone when there is no message. */
    static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m.lines().findFirst().orElse(""));
    }

    /** Linkage errors mean the plugin was compiled against other classes than it finds here. */
    static String hint(Throwable e) {
        return e instanceof LinkageError ? " (the plugin does not link against this Tessel's plugin API " + org.tessel.api.PluginApi.VERSION
                + ": was it built against another version?)" : "";
    }

    /** Calls {@code body}; anything it throws but a {@link PluginException} becomes one, with {@code what} ("plugin x.jar: tactic 'a' threw while ...") in front. */
    static <T> T call(Supplier<String> what, Supplier<T> body) {
        try {
            return body.get();
        } catch (PluginException e) {
            throw e;
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            throw new PluginException(what.get() + ": " + describe(e) + hint(e), e);
        }
    }

    /** As {@link #call}, for op code: the failure becomes an {@link OpException}, which the graph layer prefixes with the node. */
    static <T> T op(Supplier<String> what, Supplier<T> body) {
        try {
            return body.get();
        } catch (OpException e) {
            throw e;
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            throw new OpException(what.get() + ": " + describe(e) + hint(e), e);
        }
    }
}
