package org.tessel.cost;

/**
 * A predicted cost: compute and memory time overlap (a kernel is bound by the larger), launch
 * overhead adds. Times in microseconds.
 */
public record Cost(double computeUs, double memoryUs, double launchUs, long workspaceBytes) {
    public static final Cost ZERO = new Cost(0, 0, 0, 0);

    public Cost {
        if (!(computeUs >= 0 && memoryUs >= 0 && launchUs >= 0))
            throw new IllegalArgumentException("cost terms must be finite and >= 0: compute " + computeUs + ", memory " + memoryUs + ", launch " + launchUs);
        if (workspaceBytes < 0) throw new IllegalArgumentException("workspaceBytes must be >= 0, got " + workspaceBytes);
    }

    /** max(compute, memory) + launch. */
    public double totalUs() { return Math.max(computeUs, memoryUs) + launchUs; }

    /** True when compute time dominates memory time. */
    public boolean computeBound() { return computeUs >= memoryUs; }

    public Cost withWorkspace(long bytes) { return new Cost(computeUs, memoryUs, launchUs, bytes); }

    @Override public String toString() {
        return String.format("%.3f us (compute %.3f, memory %.3f, launch %.3f%s)", totalUs(), computeUs, memoryUs, launchUs,
                workspaceBytes > 0 ? ", workspace " + workspaceBytes + " B" : "");
    }
}
