package org.tessel.runtime.engine.profile;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.tessel.api.Shape;

/**
 * The engines a profile engine specialised, by the input shapes they run: at most {@code capacity},
 * the least recently used evicted first and handed to {@code onEvict} (a GPU engine frees its CUDA
 * graph and layers there; a CPU engine needs nothing). The key holds every input's shape, the static
 * ones too, so equal runs find one engine.
 */
public final class ShapeCache<E> {
    private final int capacity;
    private final Consumer<E> onEvict;
    private int evictions;
    private final LinkedHashMap<Map<String, Shape>, E> entries;

    public ShapeCache(int capacity, Consumer<E> onEvict) {
        if (capacity < 1) throw new IllegalArgumentException("a shape cache holds at least one engine, got " + capacity);
        this.capacity = capacity;
        this.onEvict = onEvict;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<Map<String, Shape>, E> eldest) {
                if (size() <= ShapeCache.this.capacity) return false;
                evictions++;
                ShapeCache.this.onEvict.accept(eldest.getValue());
                return true;
            }
        };
    }

    /** The engine for these shapes, now the most recently used; null when there is none. */
    public synchronized E get(Map<String, Shape> shapes) { return entries.get(new LinkedHashMap<>(shapes)); }

    /** Keeps {@code e} for these shapes, evicting the least recently used engine when full. */
    public synchronized void put(Map<String, Shape> shapes, E e) { entries.put(new LinkedHashMap<>(shapes), e); }

    public synchronized int size() { return entries.size(); }

    public int capacity() { return capacity; }

    /** Engines evicted so far. */
    public synchronized int evictions() { return evictions; }

    /** Evicts every engine (handing each to {@code onEvict}). */
    public synchronized void clear() {
        for (E e : entries.values()) onEvict.accept(e);
        entries.clear();
    }
}
