package org.tessel.runtime.gpu.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessel.api.DType;
import org.tessel.api.Layout;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.cost.TacticFeatures;
import org.tessel.ir.Node;
import org.tessel.tactics.Backend;
import org.tessel.tactics.CudaSourceTactic;
import org.tessel.tactics.TacticCatalog;

/**
 * The CPU half of plugin kernels in GPU engines: a plugin's CUDA C tactic, once in the global catalogue (as
 * `--plugins` installs it), has a GPU implementation the builder finds by id, which computes the ops the tactic
 * applies to and picks the kernel variant declared for the engine's storage type and the node's layout.
 */
class PluginKernelLayersTest {
    /** A plugin tactic for Relu with an f16/NHWC and an f32/ANY entry point. */
    record ReluKernel(String id) implements CudaSourceTactic {
        @Override public Backend backend() { return Backend.GPU; }
        @Override public boolean appliesTo(Node n) { return n.opName().equals("Relu"); }
        @Override public String whyNot(Node n, Precision p, Layout l) { return appliesTo(n) ? null : "not a Relu"; }
        @Override public long workspaceBytes(Node n, Precision p) { return 0; }
        @Override public TacticFeatures features(Node n, Precision p, Layout l) { return TacticFeatures.view(); }
        @Override public CudaKernel kernel() {
            return new CudaKernel("relu.cu", "extern \"C\" __global__ void relu_h(){} extern \"C\" __global__ void relu_f(){}", 256,
                    List.of(new CudaKernel.Variant(DType.F16, Layout.NHWC, "relu_h"), new CudaKernel.Variant(DType.F32, Layout.ANY, "relu_f")));
        }
        @Override public long[] kernelArguments(Node n, Precision p) { return new long[] {n.output().type().numElements()}; }
    }

    @Test void aPluginKernelIsFoundByIdWhileItsCatalogueIsInstalled() {
        ReluKernel t = new ReluKernel("acme.relu.cuda");
        assertNull(TacticImplementations.loaded().of(t.id()), "not without the plugin");
        try (var _ = TacticCatalog.install(TacticCatalog.global().with("plugin acme.jar", List.of(t)))) {
            TacticImplementation impl = TacticImplementations.loaded().of(t.id());
            assertInstanceOf(PluginKernelLayers.class, impl);
            assertEquals(List.of(t.id()), impl.tacticIds());
            assertNull(impl.ruleTactic(null, null), "the rule never picks a plugin kernel");
            org.tessel.ir.Graph g = new org.tessel.ir.Graph("g");
            var x = g.addInput("x", org.tessel.api.TensorType.of(DType.F32, 1, 8));
            Node relu = g.addNode(org.tessel.api.OpRegistry.global().get("Relu"), "relu", List.of(x), org.tessel.api.Attributes.empty(), 1);
            assertTrue(TacticImplementations.loaded().computes(relu));
        }
        assertNull(TacticImplementations.loaded().of(t.id()), "gone with the plugin");
    }

    @Test void theVariantIsTheStorageTypeAndLayoutsOne() {
        CudaKernel k = new ReluKernel("x").kernel();
        assertEquals("relu_h", PluginKernelLayers.variant(k, DType.F16, Layout.NHWC).entry());
        assertNull(PluginKernelLayers.variant(k, DType.F16, Layout.NCHW), "f16 NCHW is not declared");
        assertEquals("relu_f", PluginKernelLayers.variant(k, DType.F32, Layout.NCHW).entry(), "an ANY variant takes every layout");
        assertTrue(PluginKernelLayers.variant(k, DType.BF16, Layout.ANY) == null);
    }

    @Test void theGridCoversTheElementsAThreadTheKernelDeclares() {
        CudaKernel one = new ReluKernel("x").kernel(), eight = one.withElementsPerThread(8);
        assertEquals(1, one.elementsPerThread());
        assertEquals(6272, PluginKernelLayers.grid(one, 8L * 64 * 56 * 56));
        assertEquals(784, PluginKernelLayers.grid(eight, 8L * 64 * 56 * 56), "one thread per 8 elements");
        assertEquals(1, PluginKernelLayers.grid(eight, 8), "one vector: one block");
        assertEquals(1, PluginKernelLayers.grid(one, 0), "never an empty grid");
        assertEquals(65535 * 8, PluginKernelLayers.grid(one, 1L << 40), "capped; the grid-stride loop wraps");
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> one.withElementsPerThread(0));
        assertEquals("kernel relu.cu: elements per thread must be at least 1, got 0", e.getMessage());
    }
}
