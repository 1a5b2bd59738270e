package org.tessel.passes.rules;

import org.tessel.ir.Node;

/**
 * Rule that rewrites a small pattern rooted at one node. Matching is declarative and stops at the
 * first mismatch (return false having changed nothing); a match rewrites through the
 * {@link Rewriter} only. Rules are small classes with an immutable config record; named instances
 * live in holder classes (e.g. {@code CleanupRules.REMOVE_IDENTITY}), and the search reuses the
 * same objects.
 */
public interface RewriteRule {
    /** A stable name for statistics and explanations ("fold-batchnorm-into-conv"). */
    String name();

    /** Op names the root node may have; the driver calls the rule only on those. Empty: any op. */
    java.util.Set<String> rootOps();

    boolean matchAndRewrite(Node root, Rewriter rewriter);
}
