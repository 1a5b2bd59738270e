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

    /**
     * True when NCHW and NHWC store a tensor of logical shape {@code s} (N, C, spatial...) in the same order: one channel,
     * or one spatial position (a global pool's [N, C, 1, 1]). A reformat between them then moves nothing: a view.
     */
    public static boolean sameOrderBothWays(Shape s) {
        if (s.rank() < 3) return false;
        long spatial = 1;
        for (int i = 2; i < s.rank(); i++) spatial *= s.dim(i);
        return s.dim(1) == 1 || spatial == 1;
    }

    public static Optional<Layout> fromText(String s) {
        for (Layout l : values()) if (l.text().equals(s.toLowerCase(Locale.ROOT))) return Optional.of(l);
        return Optional.empty();
    }
}
