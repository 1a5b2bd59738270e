package org.tessel.ir.ops;

import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.tessel.api.DType;
import org.tessel.api.OpException;

/**
 * The element-type constraints of ONNX's operator spec, restricted to the types Tessel holds, and
 * the check that refuses a type outside an op's constraint with a message listing what it takes.
 */
final class DTypeSets {
    private DTypeSets() {}

    static final Set<DType> FLOATS = EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F64);
    /** ONNX's signed numeric types (Relu, Neg): floats plus the signed integers. */
    static final Set<DType> SIGNED = union(FLOATS, EnumSet.of(DType.I8, DType.I32, DType.I64));
    static final Set<DType> NUMERIC = union(FLOATS, EnumSet.of(DType.I8, DType.U8, DType.I32, DType.I64));
    /** Every type Tessel holds: what Cast, Identity and the data-movement ops take (float8 among them, as ONNX's opset 19 added it). */
    static final Set<DType> ALL = union(NUMERIC, EnumSet.of(DType.BOOL, DType.F8E4M3, DType.F8E5M2, DType.F8E4M3FNUZ, DType.F8E5M2FNUZ));
    static final Set<DType> BOOL = EnumSet.of(DType.BOOL);
    /** The types of ONNX's arithmetic reductions (ReduceSum, ReduceMean...): no 8-bit integers, no bool. */
    static final Set<DType> WIDE_NUMERIC = union(FLOATS, EnumSet.of(DType.I32, DType.I64));

    static Set<DType> union(Set<DType> a, Set<DType> b) {
        EnumSet<DType> s = EnumSet.copyOf(a);
        s.addAll(b);
        return s;
    }

    /** Fails unless t is in allowed: "input X must be f32, f16, bf16 or f64, got i32". */
    static void require(String what, DType t, Set<DType> allowed) {
        if (!allowed.contains(t)) throw new OpException(what + " must be " + describe(allowed) + ", got " + t.text());
    }

    static String describe(Set<DType> allowed) {
        var names = allowed.stream().sorted().map(DType::text).collect(Collectors.toList());
        if (names.size() == 1) return names.getFirst();
        return String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.getLast();
    }
}
