package org.tessel.search;

import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.cost.Precision;

/**
 * What a node's neighbours see of its decision: the compute precision (which fixes the storage
 * type of its floating outputs) and the layout of its image tensors ({@link Layout#ANY} when it
 * touches none). Edge costs depend only on the formats at both ends, never on the tactic.
 */
public record Format(Precision precision, Layout layout) {
    public static final Format FP32_NCHW = new Format(Precision.FP32, Layout.NCHW);

    /** Stable across JVM runs (enum hash codes are not), so hash-ordered solver internals repeat under a seed. */
    @Override public int hashCode() { return 31 * precision.ordinal() + layout.ordinal(); }

    /** Storage index of the precision: F32 0, F16 1, BF16 2, I8 3, F8E4M3 4 (for conversion tables). */
    public int storageIndex() { return storageIndex(precision.storage()); }

    public static int storageIndex(DType d) {
        return switch (d) {
            case F16 -> 1;
            case BF16 -> 2;
            case I8 -> 3;
            case F8E4M3 -> 4;
            default -> 0;
        };
    }

    /** The storage types in {@link #storageIndex} order. */
    public static final java.util.List<DType> STORAGE = java.util.List.of(DType.F32, DType.F16, DType.BF16, DType.I8, DType.F8E4M3);

    /** The physical layout an image tensor has at this end of an edge (undecided reads as channels-first). */
    public Layout imageLayout() { return layout == Layout.ANY ? Layout.NCHW : layout; }

    /** Same precision and, where both sides have one, the same layout: what members of a fused group must share. */
    public boolean agrees(Format o) {
        return precision == o.precision && (layout == Layout.ANY || o.layout == Layout.ANY || layout == o.layout);
    }

    /** The format a graph boundary has: its declared element type (as a precision), channels-first. */
    public static Format ofBoundary(DType declared) {
        Precision p = switch (declared) {
            case F16 -> Precision.FP16;
            case BF16 -> Precision.BF16;
            case I8 -> Precision.INT8;
            case F8E4M3 -> Precision.FP8;
            default -> Precision.FP32;
        };
        return new Format(p, Layout.NCHW);
    }

    @Override public String toString() { return precision.name().toLowerCase(java.util.Locale.ROOT) + (layout == Layout.ANY ? "" : "/" + layout.text()); }
}
