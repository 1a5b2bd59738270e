package org.tessel.api;

import java.util.Objects;

/** The type of an SSA value: element type, static shape, physical layout. */
public record TensorType(DType dtype, Shape shape, Layout layout) {
    public TensorType {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(layout, "layout");
    }

    public static TensorType of(DType dtype, Shape shape) { return new TensorType(dtype, shape, Layout.ANY); }
    public static TensorType of(DType dtype, int... dims) { return of(dtype, Shape.of(dims)); }

    public int rank() { return shape.rank(); }
    public long numElements() { return shape.numElements(); }
    public long bytes() { return shape.numElements() * dtype.bytes(); }

    public TensorType withLayout(Layout l) { return new TensorType(dtype, shape, l); }
    public TensorType withDType(DType d) { return new TensorType(d, shape, layout); }
    public TensorType withShape(Shape s) { return new TensorType(dtype, s, layout); }

    /** Same element type and shape; layouts may differ. */
    public boolean sameLogicalType(TensorType o) { return dtype == o.dtype && shape.equals(o.shape); }

    /** Text form: {@code f32[1,64,112,112]{nhwc}}; the layout is omitted when ANY. */
    @Override public String toString() {
        return dtype.text() + shape + (layout == Layout.ANY ? "" : "{" + layout.text() + "}");
    }
}
