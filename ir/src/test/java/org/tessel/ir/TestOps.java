package org.tessel.ir;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.EvalContext;
import org.tessel.api.InferenceContext;
import org.tessel.api.OpException;
import org.tessel.api.OpRegistry;
import org.tessel.api.OpSchema;
import org.tessel.api.Tensor;
import org.tessel.api.TensorType;
import org.tessel.api.Trait;
import org.tessel.ir.ops.BaseOp;

/** Small ops defined in tests, so core IR tests do not depend on the built-in op set. */
final class TestOps {
    private TestOps() {}

    /** y = x + 1, elementwise. */
    static final class Inc extends BaseOp {
        Inc() { super(def("test.Inc", "x + 1").domain("").inputs(1, 1, "X").traits(Trait.ELEMENTWISE)); }
        @Override public String name() { return "TInc"; }
        @Override public List<TensorType> inferTypes(InferenceContext c) { return List.of(TensorType.of(c.input(0).dtype(), c.input(0).shape())); }
        @Override public List<Tensor> evaluate(EvalContext c) {
            Tensor x = c.input(0), y = Tensor.zeros(x.dtype(), x.shape());
            for (int i = 0; i < x.size(); i++) y.setDouble(i, x.getDouble(i) + 1);
            return List.of(y);
        }
    }

    /** y = a * b for equal shapes; refuses different shapes. */
    static final class Mul2 extends BaseOp {
        Mul2() { super(def("TMul", "a * b").inputs(2, 2, "A", "B").traits(Trait.ELEMENTWISE, Trait.COMMUTATIVE)); }
        @Override public List<TensorType> inferTypes(InferenceContext c) {
            if (!c.input(0).sameLogicalType(c.input(1))) throw new OpException("inputs differ: " + c.input(0) + " vs " + c.input(1));
            return List.of(TensorType.of(c.input(0).dtype(), c.input(0).shape()));
        }
        @Override public List<Tensor> evaluate(EvalContext c) {
            Tensor a = c.input(0), b = c.input(1), y = Tensor.zeros(a.dtype(), a.shape());
            for (int i = 0; i < a.size(); i++) y.setDouble(i, a.getDouble(i) * b.getDouble(i));
            return List.of(y);
        }
    }

    /** Splits the last dimension in two halves: two outputs. */
    static final class Halves extends BaseOp {
        Halves() { super(def("THalves", "split last dim in two").inputs(1, 1, "X").outputs(2, 2)); }
        @Override public List<TensorType> inferTypes(InferenceContext c) {
            TensorType t = c.input(0);
            int last = t.shape().dim(-1);
            if (last % 2 != 0) throw new OpException("last dimension " + last + " is odd");
            TensorType h = TensorType.of(t.dtype(), t.shape().withDim(-1, last / 2));
            return List.of(h, h);
        }
        @Override public List<Tensor> evaluate(EvalContext c) {
            Tensor x = c.input(0);
            int last = x.shape().dim(-1), half = last / 2, rows = x.size() / last;
            List<Tensor> out = new ArrayList<>();
            for (int part = 0; part < 2; part++) {
                Tensor y = Tensor.zeros(c.outputType(part));
                for (int r = 0; r < rows; r++) for (int j = 0; j < half; j++) y.setDouble(r * half + j, x.getDouble(r * last + part * half + j));
                out.add(y);
            }
            return out;
        }
    }

    static OpRegistry registry() {
        return OpRegistry.load(List.of()).with("test", List.<OpSchema>of(new Inc(), new Mul2(), new Halves()));
    }
}
