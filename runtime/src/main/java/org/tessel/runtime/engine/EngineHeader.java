package org.tessel.runtime.engine;

import java.util.Map;
import java.util.TreeMap;

/**
 * The fixed part of an engine file: what it is (magic, format version), what it needs to run
 * (backend, GPU architecture, library versions), and how to tell it is whole (payload length and
 * SHA-256). Loading refuses a file whose header does not fit the machine, saying what differs.
 */
public record EngineHeader(int formatVersion, String backend, String gpuArch, Map<String, String> libraries,
                           long payloadBytes, byte[] sha256) {
    public static final int FORMAT_VERSION = 1;
    /** Recorded in every engine: an engine runs only with the Tessel that built it (op semantics may change). */
    public static final String TESSEL_VERSION = "0.1.0";

    public EngineHeader {
        libraries = Map.copyOf(new TreeMap<>(libraries));
    }

    /** What a loader offers: the backend it runs, its GPU architecture and library versions. */
    public record Machine(String backend, String gpuArch, Map<String, String> libraries) {
        public static Machine cpu() { return new Machine("cpu", "none", Map.of("tessel", TESSEL_VERSION)); }
    }

    /** Null when this engine can run on that machine; else the reason. */
    public String incompatibility(Machine m) {
        if (!backend.equals(m.backend())) return "engine was built for the " + backend + " backend, this machine runs " + m.backend();
        if (!gpuArch.equals(m.gpuArch())) return "engine was built for GPU architecture " + gpuArch + ", this GPU is " + m.gpuArch();
        for (var e : libraries.entrySet()) {
            String have = m.libraries().get(e.getKey());
            if (!e.getValue().equals(have))
                return "engine was built with " + e.getKey() + " " + e.getValue() + ", this machine has " + (have == null ? "none" : have);
        }
        return null;
    }
}
