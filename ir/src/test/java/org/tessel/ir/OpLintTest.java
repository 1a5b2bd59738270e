package org.tessel.ir;

import static org.junit.jupiter.api.Assertions.*;

import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.AttrSpec;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Trait;

/**
 * Lint over every registered op (Calcite's LintTest habit): documented, well-formed arity,
 * attributes with help text and no duplicates, no mutable static state in op classes, and the
 * issue's required op set all present.
 */
class OpLintTest {
    private static final List<String> REQUIRED = List.of("Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu",
            "PRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Softmax", "LogSoftmax", "LayerNormalization",
            "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Sum", "Max", "Min", "MaxPool",
            "AveragePool", "GlobalAveragePool", "ReduceMean", "ReduceSum", "ReduceMax", "Concat", "Split", "Slice", "Reshape", "Flatten",
            "Transpose", "Squeeze", "Unsqueeze", "Gather", "GatherElements", "Expand", "Where", "Equal", "Less", "Greater", "LessOrEqual",
            "GreaterOrEqual", "IsNaN", "Not", "And", "Or", "Cast", "Constant", "ConstantOfShape", "Shape", "Identity", "Dropout", "LRN",
            "Pad", "Resize", "QuantizeLinear", "DequantizeLinear");

    @Test void everyRequiredOpIsRegistered() {
        List<String> missing = new ArrayList<>();
        for (String op : REQUIRED) if (OpRegistry.global().find(op).isEmpty()) missing.add(op);
        assertEquals(List.of(), missing);
    }

    @Test void everyOpIsDocumentedAndWellFormed() {
        List<String> problems = new ArrayList<>();
        for (OpSchema op : OpRegistry.global().all()) {
            String n = op.qualifiedName();
            if (op.summary() == null || op.summary().isBlank()) problems.add(n + ": no summary");
            if (op.minInputs() < 0 || op.minInputs() > op.maxInputs()) problems.add(n + ": bad input arity");
            if (op.minOutputs() < 0 || op.minOutputs() > op.maxOutputs()) problems.add(n + ": bad output arity");
            var seen = new HashSet<String>();
            for (AttrSpec a : op.attributes()) {
                if (!seen.add(a.name())) problems.add(n + ": attribute " + a.name() + " declared twice");
                if (a.doc() == null || a.doc().isBlank()) problems.add(n + ": attribute " + a.name() + " has no help text");
                if (a.required() && a.defaultValue() != null) problems.add(n + ": attribute " + a.name() + " is required but has a default");
            }
            if (op.has(Trait.COMMUTATIVE) && op.maxInputs() < 2) problems.add(n + ": commutative but takes at most one input");
            for (var f : op.getClass().getDeclaredFields())
                if (Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers())) problems.add(n + ": mutable static field " + f.getName());
        }
        assertEquals(List.of(), problems);
    }
}
