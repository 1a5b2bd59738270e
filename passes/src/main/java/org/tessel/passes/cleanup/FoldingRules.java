package org.tessel.passes.cleanup;

import java.util.List;
import org.tessel.passes.cleanup.FoldIntoConvGemm.BatchNormConfig;
import org.tessel.passes.cleanup.FoldIntoConvGemm.BiasAddConfig;
import org.tessel.passes.cleanup.FoldIntoConvGemm.FoldBatchNorm;
import org.tessel.passes.cleanup.FoldIntoConvGemm.FoldBiasAdd;
import org.tessel.passes.cleanup.FoldIntoConvGemm.Target;
import org.tessel.passes.rules.RewriteRule;

/** Named instances of the folding rules; passes and the search use these objects. */
public final class FoldingRules {
    private FoldingRules() {}

    public static final RewriteRule BATCHNORM_INTO_CONV = new FoldBatchNorm(new BatchNormConfig(Target.CONV));
    public static final RewriteRule BATCHNORM_INTO_GEMM = new FoldBatchNorm(new BatchNormConfig(Target.GEMM));
    public static final RewriteRule BIAS_ADD_INTO_CONV = new FoldBiasAdd(new BiasAddConfig(Target.CONV));
    public static final RewriteRule BIAS_ADD_INTO_GEMM = new FoldBiasAdd(new BiasAddConfig(Target.GEMM));

    public static final List<RewriteRule> BATCHNORM = List.of(BATCHNORM_INTO_CONV, BATCHNORM_INTO_GEMM);
    public static final List<RewriteRule> BIAS = List.of(BIAS_ADD_INTO_CONV, BIAS_ADD_INTO_GEMM);
}
