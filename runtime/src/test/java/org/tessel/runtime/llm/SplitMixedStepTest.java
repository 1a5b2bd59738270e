package org.tessel.runtime.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** When GpuDecoderRunner runs a step as two engine runs: decode rows beside prefill chunks, only where the padding it saves is worth a run. */
class SplitMixedStepTest {
    static List<DecoderRunner.Row> rows(int... tokens) {
        List<DecoderRunner.Row> out = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) out.add(new DecoderRunner.Row("s" + i, new long[tokens[i]]));
        return out;
    }

    @Test void splitsDecodeRowsFromPrefillChunksWhenThePaddingSavedIsWorthARun() {
        // 31 decode rows beside a chunk of 128: one run would be [32 x 128], 31 x 127 positions of padding
        int[] t = new int[32];
        java.util.Arrays.fill(t, 1);
        t[5] = 128;
        int[][] parts = GpuDecoderRunner.splitMixed(rows(t));
        assertArrayEquals(java.util.stream.IntStream.range(0, 32).filter(i -> i != 5).toArray(), parts[0]);
        assertArrayEquals(new int[] {5}, parts[1]);
        // two chunks of different lengths stay one run (their bucket is the longer's), the decode rows beside them split off
        assertArrayEquals(new int[][] {{0, 3, 4}, {1, 2}}, GpuDecoderRunner.splitMixed(rows(1, 128, 37, 1, 1)));
    }

    @Test void keepsOneRunWhenTheStepIsNotMixedOrTheSavingIsSmall() {
        assertNull(GpuDecoderRunner.splitMixed(rows(1, 1, 1)), "decode only");
        assertNull(GpuDecoderRunner.splitMixed(rows(128, 64)), "prefill only");
        assertNull(GpuDecoderRunner.splitMixed(rows(1, 1, 128)), "2 x 127 = 254 padded positions: not worth a second pass over the weights");
        assertNull(GpuDecoderRunner.splitMixed(rows(1, 1, 1, 1, 1, 1, 1, 1, 16)), "8 x 15 positions");
        assertArrayEquals(new int[][] {{0, 1, 2}, {3}}, GpuDecoderRunner.splitMixed(rows(1, 1, 1, 128)), "3 x 127 = 381");
    }
}
