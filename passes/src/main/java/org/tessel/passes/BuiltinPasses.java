package org.tessel.passes;

import java.util.List;
import org.tessel.passes.approx.ApproximateGelu;
import org.tessel.passes.cleanup.CommonSubexpressionElimination;
import org.tessel.passes.cleanup.DeadCodeElimination;
import org.tessel.passes.cleanup.FoldConstants;
import org.tessel.passes.cleanup.FoldingRules;
import org.tessel.passes.cleanup.RemoveIdentities;
import org.tessel.passes.cleanup.RulePass;
import org.tessel.passes.memory.PlanMemory;
import org.tessel.passes.layout.AssignLayouts;
import org.tessel.passes.layout.CancelReformats;
import org.tessel.passes.fusion.Fuse;
import org.tessel.passes.fusion.CompositeRules;
import org.tessel.passes.fusion.MergeSiblings;
import org.tessel.passes.canonical.CanonicalizeRules;
import org.tessel.passes.canonical.SimplifyShapes;
import org.tessel.passes.decompose.DecomposeAttention;
import org.tessel.passes.decompose.DecomposeEinsum;
import org.tessel.passes.decompose.DecomposeRotaryEmbedding;
import org.tessel.passes.fusion.ListFusionCandidates;
import org.tessel.passes.lora.ApplyLora;
import org.tessel.passes.quant.QuantizeWeights;
import org.tessel.passes.streams.AssignStreams;

/** Tessel's own passes, registered through the same PassProvider SPI a plugin uses. */
public final class BuiltinPasses implements PassProvider {
    @Override public List<Pass> passes() {
        return List.of(
                new DeadCodeElimination(),
                new CommonSubexpressionElimination(),
                new FoldConstants(),
                new RemoveIdentities(),
                new PlanMemory(),
                new AssignLayouts(),
                new CancelReformats(),
                new Fuse(),
                new MergeSiblings(),
                new SimplifyShapes(),
                new RulePass(PassInfo.named("canonicalize", "Merge consecutive transposes and reshapes; drop ones that change nothing"), CanonicalizeRules.ALL),
                new RulePass(PassInfo.named("recognize-composites", "Replace decomposed LayerNorm, RMSNorm, GELU and rotary embeddings by the single ops"), CompositeRules.ALL),
                new RulePass(PassInfo.named("decompose", "Write Attention, (float, batched-contraction) Einsum and ONNX RotaryEmbedding out as MatMul, Softmax, tessel.RotaryEmbedding, elementwise, reduction and movement ops"),
                        List.of(new DecomposeAttention(), new DecomposeEinsum(), new DecomposeRotaryEmbedding())),
                new ListFusionCandidates(),
                new AssignStreams(),
                new QuantizeWeights(),
                new ApproximateGelu(),
                new ApplyLora(),
                new RulePass(PassInfo.named("fold-batchnorm", "Fold inference BatchNormalization into the preceding Conv/Gemm weights")
                        .establishes(GraphProperty.BATCHNORM_FOLDED), FoldingRules.BATCHNORM),
                new RulePass(PassInfo.named("fold-bias-add", "Fold per-channel constant adds into Conv/Gemm biases"), FoldingRules.BIAS));
    }
}
