package org.tessel.api;

import java.util.List;
import java.util.Set;

/**
 * The definition of an op kind: its name and domain, arity, attributes, traits, type inference
 * and reference semantics. Built-in ops and plugin ops implement the same interface and arrive
 * through the same {@link OpProvider} SPI.
 *
 * <p>Shapes are static and written in logical channels-first order; {@link #inferTypes} sees the
 * constant value of inputs that are constants (a Reshape's target shape, say) and fails with an
 * {@link OpException} that says what is wrong.
 */
public interface OpSchema {
    /** The op's name, e.g. "Conv". */
    String name();

    /** The op's domain; "" is the ONNX default domain. */
    default String domain() { return ""; }

    /** "Name" for the default domain, "domain.Name" otherwise: the name used in the text form. */
    default String qualifiedName() { return domain().isEmpty() ? name() : domain() + "." + name(); }

    /** One line saying what the op computes. */
    String summary();

    int minInputs();

    /** Largest input count; {@link Integer#MAX_VALUE} for variadic ops. */
    int maxInputs();

    default int minOutputs() { return 1; }

    default int maxOutputs() { return 1; }

    List<AttrSpec> attributes();

    Set<Trait> traits();

    default boolean has(Trait t) { return traits().contains(t); }

    /** Output types of one use of the op; {@code ctx.numOutputs()} entries. */
    List<TensorType> inferTypes(InferenceContext ctx);

    /** Plain, obviously-correct CPU semantics: the oracle every backend and pass is checked against. */
    List<Tensor> evaluate(EvalContext ctx);

    /** Cost hint: multiply-accumulate operations of one use (0 for ops that do no such work). */
    default long macs(InferenceContext ctx, List<TensorType> outputs) { return 0; }

    /**
     * Cost hint: how many of input {@code input}'s elements one use reads, for an op that reads part of a tensor (a paged KV
     * cache read through its block table); -1 (the default) when it reads them all.
     */
    default long elementsRead(InferenceContext ctx, int input) { return -1; }

    /**
     * Cost hint: how many of output {@code output}'s elements one use writes, for an op that updates part of a tensor in place
     * (new tokens written into a KV cache); -1 (the default) when it writes them all.
     */
    default long elementsWritten(InferenceContext ctx, List<TensorType> outputs, int output) { return -1; }

    /** Names of inputs, for documentation and error messages ("X", "W", "B"). Variadic ops repeat the last. */
    default List<String> inputNames() { return List.of(); }
}
