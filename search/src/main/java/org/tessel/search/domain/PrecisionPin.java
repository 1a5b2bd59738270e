package org.tessel.search.domain;

import java.util.Set;
import org.tessel.cost.Precision;

/** A user's precision constraint on one node: it may compute only in these precisions. */
public record PrecisionPin(int node, String rule, Set<Precision> allowed) {
    public PrecisionPin { allowed = Set.copyOf(allowed); }

    public boolean allows(Precision p) { return allowed.contains(p); }
}
