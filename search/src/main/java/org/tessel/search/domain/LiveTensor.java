package org.tessel.search.domain;

import org.tessel.search.Format;

/**
 * A node's result that is alive while node {@code step} runs (under the graph's fixed schedule):
 * it counts toward that step's activation memory, at the storage type its producer chose.
 */
public record LiveTensor(int step, int producer, long elements, boolean floating, long fixedBytes) {
    public long bytes(Format producerFormat) {
        return floating ? elements * producerFormat.precision().storage().bytes() : fixedBytes;
    }
}
