package org.tessel.examples.fastrelu;

/** Small text-IR models where a Relu stands alone, follows a convolution, or has an element count the kernel cannot take. */
final class Models {
    private Models() {}

    /** MaxPool then Relu: nothing fuses the Relu, so it runs alone. */
    static final String POOL_RELU = """
            graph @pool_relu(%x: f32[8,64,56,56]) {
              %p = MaxPool(%x) {kernel_shape=[3,3], strides=[1,1], pads=[1,1,1,1]} : f32[8,64,56,56] loc("pool")
              %r = Relu(%p) : f32[8,64,56,56] loc("relu")
              return %r
            }
            """;

    /** Conv then Relu: the Relu can ride in the convolution's epilogue. */
    static final String CONV_RELU = """
            graph @conv_relu(%x: f32[8,64,56,56]) {
              %w = constant f32[64,64,3,3] dense<0.01>
              %b = constant f32[64] dense<0.1>
              %c = Conv(%x, %w, %b) {pads=[1,1,1,1], kernel_shape=[3,3]} : f32[8,64,56,56] loc("conv")
              %r = Relu(%c) : f32[8,64,56,56] loc("relu")
              return %r
            }
            """;

    /** 3 x 5 x 5 = 75 elements: not a multiple of 8. */
    static final String ODD_RELU = """
            graph @odd_relu(%x: f32[1,3,5,5]) {
              %p = MaxPool(%x) {kernel_shape=[3,3], strides=[1,1], pads=[1,1,1,1]} : f32[1,3,5,5] loc("pool")
              %r = Relu(%p) : f32[1,3,5,5] loc("relu")
              return %r
            }
            """;
}
