package org.tessel.api;

import java.util.Locale;
import java.util.Optional;

/**
 * Physical storage order of an image tensor. Shapes are always written in logical channels-first
 * order (N, C, spatial...); the layout says how a backend lays the data out in memory. The
 * reference interpreter works on logical order and ignores it.
 */
public enum Layout {
    /** Not an image tensor, or not yet decided. Omitted in the text form. */
    ANY,
    /** Channels first: N, C, (D), H, W. */
    NCHW,
    /** Channels last: N, (D), H, W, C. */
    NHWC;

    public String text() { return name().toLowerCase(Locale.ROOT); }

    public static Optional<Layout> fromText(String s) {
        for (Layout l : values()) if (l.text().equals(s.toLowerCase(Locale.ROOT))) return Optional.of(l);
        return Optional.empty();
    }
}
