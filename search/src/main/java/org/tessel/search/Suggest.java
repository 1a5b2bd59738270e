package org.tessel.search;

import java.util.Collection;
import java.util.Locale;

/** "Did you mean" for names a user types: the closest known name by edit distance, when close enough. */
public final class Suggest {
    private Suggest() {}

    /** The closest of {@code known} to {@code typed}, or null when none is within a third of its length (at least 2 edits). */
    public static String closest(String typed, Collection<String> known) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(typed.toLowerCase(Locale.ROOT), k.toLowerCase(Locale.ROOT));
            if (d < bestD) { bestD = d; best = k; }
        }
        return best != null && bestD <= Math.max(2, typed.length() / 3) ? best : null;
    }

    /** " (did you mean 'x'?)" or "". */
    public static String hint(String typed, Collection<String> known) {
        String c = closest(typed, known);
        return c == null ? "" : " (did you mean '" + c + "'?)";
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}
