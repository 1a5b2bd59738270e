package org.tessel.search.domain;

import org.tessel.api.TensorType;
import org.tessel.search.Format;

/**
 * One use of a value: producer node to consumer node, or a graph input to a node (producer -1,
 * fixed source format) or a node to a graph output (consumer -1, fixed target format). Where the
 * two ends disagree the engine pays a reformat (image tensors, layouts differ) and a cast
 * (floating tensors, storage types differ); the conversion is priced per use.
 */
public final class Use {
    private final int id;
    private final String value;
    private final int producer;
    private final int consumer;
    private final TensorType type;
    private final boolean image;
    private final boolean floating;
    private final Format fixedSource;
    private final Format fixedTarget;
    private final long[] reformatPs;
    private final long[][] castPs;

    /**
     * @param reformatPs reformat cost by the storage index of the source end (all four equal for a
     *                   non-floating value)
     * @param castPs     cast cost from storage index to storage index (unused for non-floating values)
     */
    public Use(int id, String value, int producer, int consumer, TensorType type, boolean image, boolean floating,
               Format fixedSource, Format fixedTarget, long[] reformatPs, long[][] castPs) {
        if ((producer < 0) != (fixedSource != null)) throw new IllegalArgumentException("use " + id + ": a source format is given exactly when there is no producer node");
        if ((consumer < 0) != (fixedTarget != null)) throw new IllegalArgumentException("use " + id + ": a target format is given exactly when there is no consumer node");
        this.id = id;
        this.value = value;
        this.producer = producer;
        this.consumer = consumer;
        this.type = type;
        this.image = image;
        this.floating = floating;
        this.fixedSource = fixedSource;
        this.fixedTarget = fixedTarget;
        this.reformatPs = reformatPs.clone();
        this.castPs = castPs;
    }

    public int id() { return id; }
    public String value() { return value; }
    public int producer() { return producer; }
    public int consumer() { return consumer; }
    public TensorType type() { return type; }
    public boolean image() { return image; }
    public boolean floating() { return floating; }
    public Format fixedSource() { return fixedSource; }
    public Format fixedTarget() { return fixedTarget; }
    public boolean internal() { return producer >= 0 && consumer >= 0; }
    public boolean fromGraphInput() { return producer < 0; }
    public boolean toGraphOutput() { return consumer < 0; }

    /** Cost of the layout change from one end's format to the other's; 0 when none is needed. */
    public long reformatPs(Format from, Format to) {
        if (!image || from.imageLayout() == to.imageLayout()) return 0;
        return reformatPs[floating ? from.storageIndex() : 0];
    }

    /** Cost of the element-type change; 0 for non-floating values or equal storage types. */
    public long castPs(Format from, Format to) {
        if (!floating) return 0;
        int a = from.storageIndex(), b = to.storageIndex();
        return a == b ? 0 : castPs[a][b];
    }

    public long conversionPs(Format from, Format to) { return reformatPs(from, to) + castPs(from, to); }

    @Override public String toString() {
        return "%" + value + " " + (producer < 0 ? "input" : "n" + producer) + "->" + (consumer < 0 ? "output" : "n" + consumer);
    }
}
