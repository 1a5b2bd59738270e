package org.tessel.runtime.gpu.engine;

import java.util.List;
import org.tessel.ir.Node;

/**
 * The GPU implementation of one family of catalogue tactics: it builds the layer of a node for a
 * tactic id the plan names. Implementations are found with {@link java.util.ServiceLoader} (the
 * built-in ones are listed in {@code META-INF/services}, as a plugin's would be), each id has
 * exactly one, and {@code TacticVocabularyLintTest} checks that their ids are the catalogue's GPU
 * tactics. The engine never switches on op names: it asks the implementation of the planned id.
 */
public interface TacticImplementation {
    /** The catalogue ids this implementation builds (without variants). */
    List<String> tacticIds();

    /** True when some tactic of this family computes {@code n}'s op (and fused kind); decided without a GPU. */
    boolean computes(Node n);

    /**
     * The id among {@link #tacticIds()} that the fixed rule runs for {@code n} when the engine is built
     * without a plan (the {@code rule} strategy names the same), or null when this family does not
     * compute {@code n}.
     */
    String ruleTactic(LayerContext c, Node n);

    /**
     * Builds exactly {@code tactic} (a catalogue id of this family, optionally followed by a variant
     * after '/': an algorithm, a form) for {@code n}; throws {@link GpuEngineException} naming the node
     * and the reason when this tactic cannot run it.
     */
    Layer build(LayerContext c, Node n, String tactic);

    /**
     * Why tactic {@code id} of this family has no INT8 kernel for {@code n} (null: it has one), decided without a GPU:
     * by default none of the family's tactics runs INT8.
     */
    default String int8WhyNot(Node n, String id) { return id + " has no INT8 kernel on the GPU"; }

    /**
     * Why tactic {@code id} of this family cannot run {@code n} at FP8 E4M3 (null: its FP8 kernel takes the node's
     * shape), decided without a GPU: by default none of the family's tactics has an FP8 kernel.
     */
    default String fp8WhyNot(Node n, String id) { return id + " has no FP8 kernel on the GPU"; }

    /**
     * Why the variant {@code tactic} names after its catalogue id (a tactic of this family) cannot run {@code n} at
     * precision {@code p}, decided without a GPU before the build ({@link GpuEngine#checkPlan}): it names nothing of the
     * tactic's, or a form that cannot run the node. Null: it runs, or the family checks it only as it builds (cuDNN's
     * algorithms, which take the library); by default every family does.
     */
    default String variantWhyNot(Node n, String tactic, GpuEngine.Precision p) { return null; }

    /** True when a layer reporting id {@code built} carries out a plan that named {@code planned} (by default: the same id). */
    default boolean realizes(String planned, String built) { return planned.equals(built); }
}
