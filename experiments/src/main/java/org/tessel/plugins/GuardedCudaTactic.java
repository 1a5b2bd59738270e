package org.tessel.plugins;

import java.util.ArrayList;
import java.util.List;
import org.tessel.api.Layout;
import org.tessel.api.PluginException;
import org.tessel.api.kernel.CudaKernel;
import org.tessel.cost.Precision;
import org.tessel.ir.Node;
import org.tessel.tactics.CudaSourceTactic;

/**
 * A plugin tactic with a CUDA C kernel, guarded like any plugin tactic; its kernel is read once at
 * load and checked there: every entry point it declares is defined in its source, and every
 * precision and layout the tactic claims has a declared variant (its storage type in that layout).
 */
final class GuardedCudaTactic extends GuardedTactic implements CudaSourceTactic {
    private final CudaSourceTactic t;
    private final CudaKernel kernel;

    GuardedCudaTactic(CudaSourceTactic t, String plugin) {
        super(t, plugin);
        this.t = t;
        String w = "plugin " + plugin + ": tactic '" + id() + "'";
        this.kernel = Guard.call(() -> w + " threw in kernel()", t::kernel);
        if (kernel == null) throw new PluginException(w + ": kernel() is null");
        List<String> undefined = kernel.undefinedEntries();
        if (!undefined.isEmpty())
            throw new PluginException(w + ": its CUDA kernel " + kernel.name() + " declares entry point" + (undefined.size() > 1 ? "s " : " ") + undefined
                    + " that its source does not define (as extern \"C\" __global__ void NAME(...))");
        List<String> missing = new ArrayList<>();
        for (Precision p : precisions())
            for (Layout l : layouts())
                if (kernel.variant(p.storage(), l).isEmpty()) missing.add(p.text() + "/" + l.text() + " (" + p.storage().text() + ")");
        if (!missing.isEmpty())
            throw new PluginException(w + " claims " + String.join(", ", missing) + " but its CUDA kernel " + kernel.name() + " declares only "
                    + String.join(", ", kernel.variants().stream().map(CudaKernel.Variant::text).toList()));
    }

    @Override public CudaKernel kernel() { return kernel; }

    @Override public long[] kernelArguments(Node n, Precision p) {
        long[] a = Guard.call(() -> "plugin " + plugin() + ": tactic '" + id() + "' threw while computing the kernel arguments of " + n.describe(), () -> t.kernelArguments(n, p));
        if (a == null) throw new PluginException("plugin " + plugin() + ": tactic '" + id() + "' has no kernel arguments for " + n.describe());
        return a.clone();
    }
}
