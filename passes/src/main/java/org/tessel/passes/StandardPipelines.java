package org.tessel.passes;

import java.util.Map;

/** Named pipelines, so configs and the command line can say {@code --pipeline standard}. */
public final class StandardPipelines {
    private StandardPipelines() {}

    /** Clean-up only: what import leaves behind, removed. */
    public static final String CLEANUP = "simplify-shapes,fold-constants,remove-identities,canonicalize,fixpoint(cse,dce){max-iterations=4}";

    /** The default optimization pipeline, TensorRT-style: fold, fuse, lay out, plan memory. */
    public static final String STANDARD = CLEANUP
            + ",recognize-composites,fold-batchnorm,fold-bias-add,fixpoint(cse,dce){max-iterations=4},fuse,assign-layouts,cancel-reformats,dce,plan-memory";

    private static final Map<String, String> BY_NAME = Map.of("standard", STANDARD, "cleanup", CLEANUP);

    /** A pipeline name ("standard") or pipeline text ("dce,cse"). */
    public static String resolve(String nameOrText) { return BY_NAME.getOrDefault(nameOrText, nameOrText); }
}
