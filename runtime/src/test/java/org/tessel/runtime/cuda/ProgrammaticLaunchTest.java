package org.tessel.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Which kernels of a module are launched with programmatic stream serialization: those whose own PTX entry waits for
 * the kernel before them (griddepcontrol.wait), and no other entry of the same module.
 */
class ProgrammaticLaunchTest {
    static final String PTX = """
            .version 8.5
            .target sm_90
            .visible .entry tessel_paged_attention(
                .param .u64 p0
            )
            {
                griddepcontrol.wait;
                griddepcontrol.launch_dependents;
                ret;
            }
            .visible .entry tessel_plain(
                .param .u64 p0
            )
            {
                ret;
            }
            """;

    @Test void onlyAnEntryThatWaitsIsLaunchedProgrammatically() {
        assertTrue(CudaModule.waitsForPredecessor(PTX, "tessel_paged_attention"));
        assertFalse(CudaModule.waitsForPredecessor(PTX, "tessel_plain"));
        assertFalse(CudaModule.waitsForPredecessor(PTX, "tessel_paged"), "a prefix of an entry's name is not the entry");
        assertFalse(CudaModule.waitsForPredecessor(null, "tessel_paged_attention"), "an emulated module has no PTX");
    }
}
