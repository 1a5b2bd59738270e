package org.tessel.ir.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.tessel.ir.NetworkBuilder.attrs;
import static org.tessel.ir.ops.NnOpsTest.assertMessage;
import static org.tessel.ir.ops.NnOpsTest.error;
import static org.tessel.ir.ops.NnOpsTest.eval1;
import static org.tessel.ir.ops.NnOpsTest.random;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/** Einsum against MatMul/Transpose/ReduceSum and hand values: explicit and implicit outputs, '...', diagonals, errors. */
class EinsumOpTest {
    private static Tensor einsum(String eq, Tensor... ins) { return eval1("Einsum", attrs("equation", eq), ins); }

    private static void assertClose(Tensor want, Tensor got) {
        assertEquals(want.shape(), got.shape());
        for (int i = 0; i < want.size(); i++) assertEquals(want.getDouble(i), got.getDouble(i), 1e-5, "element " + i);
    }

    @Test void contractionsAreMatMulsAndTransposes() {
        SplittableRandom r = new SplittableRandom(4);
        Tensor a = random(r, DType.F32, 2, 3, 4), b = random(r, DType.F32, 2, 4, 5);
        Tensor mm = eval1("MatMul", Attributes.empty(), a, b);
        assertClose(mm, einsum("bij,bjk->bik", a, b));
        // implicit output: the letters that occur once, i and k; b occurs twice, so it is summed like j
        Tensor implicit = einsum("bij, bjk", a, b);
        assertEquals(Shape.of(3, 5), implicit.shape());
        assertEquals(mm.getDouble(0) + mm.getDouble(15), implicit.getDouble(0), 1e-5);
        // '...' broadcasts: a [2,3,4] against b2 [4,5] as '...ij,jk'
        Tensor b2 = random(r, DType.F32, 4, 5);
        assertClose(eval1("MatMul", Attributes.empty(), a, b2), einsum("...ij,jk->...ik", a, b2));
        // 'bhqd,bhkd->bhqk' (attention scores) is MatMul with the second operand transposed
        Tensor q = random(r, DType.F32, 2, 3, 4, 8), k = random(r, DType.F32, 2, 3, 5, 8);
        Tensor kt = eval1("Transpose", attrs("perm", new long[] {0, 1, 3, 2}), k);
        assertClose(eval1("MatMul", Attributes.empty(), q, kt), einsum("bhqd,bhkd->bhqk", q, k));
        assertClose(kt, einsum("bhkd->bhdk", k));
    }

    @Test void handValues() {
        Tensor m = Tensor.ofFloats(Shape.of(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertEquals(15, einsum("ii", m).getDouble(0), 0);            // trace, implicit output: no letter occurs once
        assertClose(Tensor.ofFloats(Shape.of(3), 1, 5, 9), einsum("ii->i", m));
        assertClose(Tensor.ofFloats(Shape.of(3), 12, 15, 18), einsum("ij->j", m));
        assertEquals(45, einsum("ij->", m).getDouble(0), 0);
        assertClose(Tensor.ofFloats(Shape.of(3, 3), 1, 4, 7, 2, 5, 8, 3, 6, 9), einsum("ji", m)); // implicit: i, j in order
        // three operands: a row vector, the matrix, a column vector
        Tensor u = Tensor.ofFloats(Shape.of(3), 1, 0, 1), w = Tensor.ofFloats(Shape.of(3), 0, 1, 0);
        assertEquals(2 + 8, einsum("i,ij,j->", u, m, w).getDouble(0), 0);
        // an outer product, integers accumulated exactly
        Tensor x = Tensor.ofLongs(DType.I64, Shape.of(2), 3, 4), y = Tensor.ofLongs(DType.I64, Shape.of(2), 5, 6);
        Tensor o = einsum("i,j", x, y);
        assertEquals(DType.I64, o.dtype());
        assertEquals(java.util.List.of(15L, 18L, 20L, 24L), java.util.List.of(o.getLong(0), o.getLong(1), o.getLong(2), o.getLong(3)));
        // '...' without an output '...' is summed; a size-1 '...' axis broadcasts
        Tensor z = Tensor.ofFloats(Shape.of(2, 1, 2), 1, 2, 3, 4), one = Tensor.ofFloats(Shape.of(3, 2), 1, 1, 1, 1, 1, 1);
        assertEquals(Shape.of(2, 3), einsum("...i,...i->...", z, one).shape());
        assertClose(Tensor.ofFloats(Shape.of(2), 4, 6), einsum("...i->i", z));
    }

    @Test void refusesBadEquations() {
        Tensor m = Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        assertMessage(error("Einsum", attrs("equation", "ij,jk->ik"), m), "has 2 input term(s) for 1 input(s)");
        assertMessage(error("Einsum", attrs("equation", "ijk->i"), m), "input 0 of shape [2,3] has rank 2, its term 'ijk' names 3 axes");
        assertMessage(error("Einsum", attrs("equation", "ii->i"), m), "index 'i' has size 2 and 3");
        assertMessage(error("Einsum", attrs("equation", "ij->k"), m), "output index 'k' is in no input term");
        assertMessage(error("Einsum", attrs("equation", "ij->ii"), m), "output index 'i' is repeated");
        assertMessage(error("Einsum", attrs("equation", "i1->i"), m), "'1' is not a letter");
        assertMessage(error("Einsum", attrs("equation", "i..j->i"), m), "has a '.' that is not one '...'");
    }
}
