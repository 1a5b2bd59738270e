package org.tessel.runtime.llm;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;

/**
 * Reader of a state dict written by {@code torch.save} (pytorch_model.bin): a zip whose records lie in one folder (named
 * after the file torch wrote, or "archive"): {@code data.pkl}, the pickled dict, {@code byteorder} ("little"; absent in
 * older files, read as little), and {@code data/<key>}, each storage's bytes. In data.pkl a tensor is
 * {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)} and each storage a
 * persistent id {@code ('storage', torch.<Type>Storage, key, location, numel)}; tensors view their storage by offset
 * and strides, so transposed views and storages shared by several tensors (tied embeddings) are read as torch reads them.
 *
 * <p>data.pkl is read by a restricted unpickler: the opcodes of pickle protocols 2 to 5 that a state dict needs, and
 * only the globals torch's tensors use ({@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2},
 * {@code _rebuild_parameter}, {@code _rebuild_parameter_with_state}, {@code torch.<Type>Storage}). Any other global is
 * refused by name; nothing in the file is ever executed. F32, F16 and BF16 tensors are read (as f32); other dtypes are
 * refused naming the tensor, big-endian files and torch's pre-1.6 non-zip format naming the file.
 */
final class TorchSave {
    private TorchSave() {}

    /** torch's storage types (torch.NAME) and their element type; only the first three are read. */
    private static final Map<String, String> STORAGES = Map.ofEntries(Map.entry("FloatStorage", "float32"), Map.entry("HalfStorage", "float16"),
            Map.entry("BFloat16Storage", "bfloat16"), Map.entry("DoubleStorage", "float64"), Map.entry("LongStorage", "int64"), Map.entry("IntStorage", "int32"),
            Map.entry("ShortStorage", "int16"), Map.entry("CharStorage", "int8"), Map.entry("ByteStorage", "uint8"), Map.entry("BoolStorage", "bool"),
            Map.entry("ComplexFloatStorage", "complex64"), Map.entry("ComplexDoubleStorage", "complex128"), Map.entry("QInt8Storage", "qint8"),
            Map.entry("QUInt8Storage", "quint8"), Map.entry("QInt32Storage", "qint32"));
    private static final String ALLOWED = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.<Type>Storage";

    /** One storage of the file: its key (the record data/KEY), torch's type name and its length in elements. */
    record Storage(String key, String type, long numel) {
        int width() {
            return switch (type) {
                case "FloatStorage" -> 4;
                case "HalfStorage", "BFloat16Storage" -> 2;
                default -> 0;
            };
        }
    }

    /** A tensor as pickled: a view of a storage (offset, size and stride in elements). */
    record TensorRef(Storage storage, long offset, long[] size, long[] stride) {
        long numel() {
            long n = 1;
            for (long d : size) n *= d;
            return n;
        }
    }

    /** A file's tensors in the dict's order, and their bytes as huggingface_hub counts them for an index's total_size. */
    record Contents(Map<String, Tensor> tensors, long indexedBytes) {}

    static Contents read(Path file) {
        try (ZipFile zip = open(file)) {
            String prefix = prefix(zip, file);
            ZipEntry order = zip.getEntry(prefix + "byteorder");
            if (order != null) {
                String o = new String(bytes(zip, order, file), StandardCharsets.US_ASCII).strip();
                if (o.equals("big")) throw new IllegalArgumentException(file + ": byteorder is big: big-endian checkpoints are not read (torch.save on a little-endian machine writes \"little\")");
                if (!o.equals("little")) throw new IllegalArgumentException(file + ": byteorder is '" + o + "', not little or big");
            }
            ZipEntry pkl = zip.getEntry(prefix + "data.pkl");
            if (pkl == null) throw new IllegalArgumentException(file + ": no " + prefix + "data.pkl: not a state dict written by torch.save");
            Object root = new Unpickler(bytes(zip, pkl, file), file + ": data.pkl").load();
            if (!(root instanceof Map<?, ?> dict)) throw new IllegalArgumentException(file + ": data.pkl holds a " + typeName(root) + ", not a state dict (a dict of tensors)");
            Map<String, TensorRef> refs = new LinkedHashMap<>();
            for (var e : dict.entrySet()) {
                if (!(e.getKey() instanceof String name)) throw new IllegalArgumentException(file + ": data.pkl's state dict has a key " + e.getKey() + " that is not a string");
                if (!(e.getValue() instanceof TensorRef t)) throw new IllegalArgumentException(file + ": entry " + name + " of the state dict is a " + typeName(e.getValue()) + ", not a tensor");
                refs.put(name, t);
            }
            return tensors(zip, prefix, refs, file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
    }

    private static ZipFile open(Path file) throws IOException {
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException e) {
            byte[] head = new byte[2];
            try (InputStream in = Files.newInputStream(file)) {
                if (in.readNBytes(head, 0, 2) == 2 && (head[0] & 0xff) == 0x80)
                    throw new IllegalArgumentException(file + ": torch.save's legacy format (a bare pickle, torch < 1.6 or _use_new_zipfile_serialization=False) is not read: "
                            + "save it again with torch >= 1.6, or as safetensors");
            }
            throw new IllegalArgumentException(file + ": not a zip archive (torch.save writes one): " + e.getMessage());
        }
    }

    /** The folder all records lie in, with its slash: the first record's (as torch's reader finds it). */
    private static String prefix(ZipFile zip, Path file) {
        var entries = zip.entries();
        if (!entries.hasMoreElements()) throw new IllegalArgumentException(file + ": the zip archive is empty");
        String first = entries.nextElement().getName();
        int slash = first.indexOf('/');
        if (slash < 0) throw new IllegalArgumentException(file + ": record " + first + " is not in a folder: not an archive written by torch.save");
        return first.substring(0, slash + 1);
    }

    private static byte[] bytes(ZipFile zip, ZipEntry e, Path file) throws IOException {
        if (e.getSize() > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(file + ": record " + e.getName() + " of " + e.getSize() + " bytes is larger than this reader takes (2 GB)");
        try (InputStream in = zip.getInputStream(e)) {
            return in.readAllBytes();
        }
    }

    /** Reads the storages one at a time, each once, building every tensor that views it. */
    private static Contents tensors(ZipFile zip, String prefix, Map<String, TensorRef> refs, Path file) throws IOException {
        Map<String, List<String>> byStorage = new LinkedHashMap<>();
        long indexed = 0;
        for (var e : refs.entrySet()) {
            Storage s = e.getValue().storage();
            if (s.width() == 0)
                throw new IllegalArgumentException(file + ": tensor " + e.getKey() + " is " + STORAGES.get(s.type()) + " (torch." + s.type() + "); F32, F16 and BF16 tensors are read");
            if (!byStorage.containsKey(s.key())) indexed += e.getValue().numel() * s.width(); // huggingface_hub counts a storage once, by its first tensor
            byStorage.computeIfAbsent(s.key(), k -> new ArrayList<>()).add(e.getKey());
        }
        Map<String, Tensor> built = new HashMap<>();
        for (var e : byStorage.entrySet()) {
            Storage s = refs.get(e.getValue().getFirst()).storage();
            ZipEntry entry = zip.getEntry(prefix + "data/" + s.key());
            if (entry == null) throw new IllegalArgumentException(file + ": no record " + prefix + "data/" + s.key() + " for the storage of tensor " + e.getValue().getFirst());
            byte[] data = bytes(zip, entry, file);
            if (data.length != s.numel() * s.width())
                throw new IllegalArgumentException(file + ": record data/" + s.key() + " holds " + data.length + " bytes; its " + s.numel() + " elements of torch." + s.type() + " need " + s.numel() * s.width());
            ByteBuffer buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            for (String name : e.getValue()) built.put(name, tensor(name, refs.get(name), buf, file));
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : refs.keySet()) out.put(name, built.get(name));
        return new Contents(out, indexed);
    }

    /** The tensor's elements gathered from its storage by offset and strides. */
    private static Tensor tensor(String name, TensorRef t, ByteBuffer buf, Path file) {
        String where = file + ": tensor " + name;
        int rank = t.size().length;
        if (t.stride().length != rank) throw new IllegalArgumentException(where + ": size " + Arrays.toString(t.size()) + " and stride " + Arrays.toString(t.stride()) + " differ in rank");
        long last = t.offset();
        for (int i = 0; i < rank; i++) {
            if (t.size()[i] < 0 || t.size()[i] > Integer.MAX_VALUE || t.stride()[i] < 0)
                throw new IllegalArgumentException(where + ": size " + Arrays.toString(t.size()) + " or stride " + Arrays.toString(t.stride()) + " is negative or too large");
            if (t.size()[i] > 0) last += (t.size()[i] - 1) * t.stride()[i];
        }
        long n = t.numel();
        if (n > Shape.MAX_ELEMENTS) throw new IllegalArgumentException(where + ": " + n + " elements are more than a tensor here holds");
        if (t.offset() < 0 || (n > 0 && last >= t.storage().numel()))
            throw new IllegalArgumentException(where + ": offset " + t.offset() + ", size " + Arrays.toString(t.size()) + " and stride " + Arrays.toString(t.stride())
                    + " reach element " + last + " of a storage of " + t.storage().numel());
        int[] dims = new int[rank];
        for (int i = 0; i < rank; i++) dims[i] = (int) t.size()[i];
        float[] v = new float[(int) n];
        long[] idx = new long[rank];
        long at = t.offset();
        boolean f32 = t.storage().type().equals("FloatStorage"), f16 = t.storage().type().equals("HalfStorage");
        for (int i = 0; i < v.length; i++) {
            v[i] = f32 ? buf.getFloat((int) (at * 4)) : f16 ? Float.float16ToFloat(buf.getShort((int) (at * 2)))
                    : Float.intBitsToFloat((buf.getShort((int) (at * 2)) & 0xffff) << 16);
            for (int d = rank - 1; d >= 0; d--) { // next index, last dimension fastest
                at += t.stride()[d];
                if (++idx[d] < t.size()[d]) break;
                at -= idx[d] * t.stride()[d];
                idx[d] = 0;
            }
        }
        return Tensor.ofFloats(Shape.of(dims), v);
    }

    private static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case Map<?, ?> m -> "dict";
            case List<?> l -> "list";
            case Tuple t -> "tuple";
            case String s -> "str";
            case Long l -> "int";
            case BigInteger b -> "int";
            case Double d -> "float";
            case Boolean b -> "bool";
            case Storage s -> "storage";
            case Global g -> g.toString();
            default -> o.getClass().getSimpleName();
        };
    }

    record Tuple(List<Object> items) {}

    record Global(String module, String name) {
        @Override public String toString() { return module + "." + name; }
    }

    /**
     * Pickle's virtual machine, cut down to what a state dict needs: literals, tuples, lists, dicts, the memo, and calls
     * of torch's tensor globals, which build {@link TensorRef}s and never run anything.
     */
    static final class Unpickler {
        private final byte[] b;
        private final String where;
        private int pos;
        private final List<Object> stack = new ArrayList<>();
        private final Deque<Integer> marks = new ArrayDeque<>();
        private final Map<Long, Object> memo = new HashMap<>();
        private final Map<String, Storage> storages = new HashMap<>();

        Unpickler(byte[] b, String where) { this.b = b; this.where = where; }

        private IllegalArgumentException error(String what) { return new IllegalArgumentException(where + ": " + what); }

        Object load() {
            while (true) {
                if (pos >= b.length) throw error("ends at byte " + pos + " without STOP");
                int at = pos, op = b[pos++] & 0xff;
                switch (op) {
                    case 0x80 -> { // PROTO
                        int proto = u8();
                        if (proto < 2 || proto > 5) throw error("pickle protocol " + proto + "; torch.save writes 2 (this reader takes 2 to 5)");
                    }
                    case 0x95 -> take(8); // FRAME: a length hint
                    case '.' -> { // STOP
                        Object result = pop(at);
                        if (!stack.isEmpty() || !marks.isEmpty()) throw error("STOP at byte " + at + " leaves " + stack.size() + " values on the stack");
                        return result;
                    }
                    case '(' -> marks.push(stack.size()); // MARK
                    case '0' -> pop(at); // POP
                    case '1' -> popMark(at); // POP_MARK
                    case '2' -> push(peek(at)); // DUP
                    case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                    case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                    case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                    case 't' -> push(new Tuple(popMark(at))); // TUPLE
                    case 0x85, 0x86, 0x87 -> { // TUPLE1, TUPLE2, TUPLE3
                        int n = op - 0x84;
                        if (stack.size() - n < (marks.isEmpty() ? 0 : marks.peek())) throw error("TUPLE" + n + " at byte " + at + " lacks values");
                        List<Object> items = new ArrayList<>(stack.subList(stack.size() - n, stack.size()));
                        stack.subList(stack.size() - n, stack.size()).clear();
                        push(new Tuple(items));
                    }
                    case 'l' -> push(new ArrayList<>(popMark(at))); // LIST
                    case 'd' -> { // DICT
                        Map<Object, Object> m = new LinkedHashMap<>();
                        setItems(m, popMark(at), at);
                        push(m);
                    }
                    case 'X' -> push(text(u32())); // BINUNICODE
                    case 0x8c -> push(text(u8())); // SHORT_BINUNICODE
                    case 0x8d -> push(text(u64())); // BINUNICODE8
                    case 'J' -> push((long) ByteBuffer.wrap(take(4)).order(ByteOrder.LITTLE_ENDIAN).getInt()); // BININT
                    case 'K' -> push((long) u8()); // BININT1
                    case 'M' -> push((long) (u8() | u8() << 8)); // BININT2
                    case 0x8a -> push(integer(take(u8()))); // LONG1
                    case 0x8b -> push(integer(take(u32()))); // LONG4
                    case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                    case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                    case 'N' -> push(null); // NONE
                    case 'G' -> push(ByteBuffer.wrap(take(8)).getDouble()); // BINFLOAT (big-endian)
                    case 'c' -> push(global(line(), line())); // GLOBAL
                    case 0x93 -> { // STACK_GLOBAL
                        Object name = pop(at), module = pop(at);
                        if (!(module instanceof String m) || !(name instanceof String n)) throw error("STACK_GLOBAL at byte " + at + " needs two strings");
                        push(global(m, n));
                    }
                    case 'q' -> memo.put((long) u8(), peek(at)); // BINPUT
                    case 'r' -> memo.put((long) u32(), peek(at)); // LONG_BINPUT
                    case 0x94 -> memo.put((long) memo.size(), peek(at)); // MEMOIZE
                    case 'h' -> push(memo(u8(), at)); // BINGET
                    case 'j' -> push(memo(u32(), at)); // LONG_BINGET
                    case 's' -> { // SETITEM
                        Object v = pop(at), k = pop(at);
                        setItems(dict(peek(at), at), List.of(k, v), at);
                    }
                    case 'u' -> { // SETITEMS
                        List<Object> items = popMark(at);
                        setItems(dict(peek(at), at), items, at);
                    }
                    case 'a' -> { // APPEND
                        Object v = pop(at);
                        list(peek(at), at).add(v);
                    }
                    case 'e' -> { // APPENDS
                        List<Object> items = popMark(at);
                        list(peek(at), at).addAll(items);
                    }
                    case 'R' -> { // REDUCE
                        Object args = pop(at), f = pop(at);
                        push(call(f, args, at));
                    }
                    case 'b' -> { // BUILD: an OrderedDict's attributes (a state dict's _metadata), which nothing here needs
                        Object state = pop(at), target = peek(at);
                        if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?> || state instanceof Tuple))
                            throw error("BUILD at byte " + at + " sets the state of a " + typeName(target) + "; only a state dict's attributes are read");
                    }
                    case 'Q' -> push(persistent(pop(at), at)); // BINPERSID
                    default -> throw error(String.format("opcode 0x%02x at byte %d is not one a state dict needs (this reader takes what torch.save writes)", op, at));
                }
            }
        }

        private void push(Object o) { stack.add(o); }

        private Object pop(int at) {
            if (stack.isEmpty() || (!marks.isEmpty() && stack.size() <= marks.peek())) throw error("the stack is empty at byte " + at);
            return stack.removeLast();
        }

        private Object peek(int at) {
            if (stack.isEmpty()) throw error("the stack is empty at byte " + at);
            return stack.getLast();
        }

        private List<Object> popMark(int at) {
            if (marks.isEmpty()) throw error("no MARK before byte " + at);
            int from = marks.pop();
            List<Object> items = new ArrayList<>(stack.subList(from, stack.size()));
            stack.subList(from, stack.size()).clear();
            return items;
        }

        private Object memo(long i, int at) {
            if (!memo.containsKey(i)) throw error("memo entry " + i + " read at byte " + at + " was never stored");
            return memo.get(i);
        }

        private byte[] take(long n) {
            if (n < 0 || n > b.length - pos) throw error(n + " bytes asked for at byte " + pos + ", past the end (" + b.length + " bytes)");
            byte[] r = Arrays.copyOfRange(b, pos, pos + (int) n);
            pos += (int) n;
            return r;
        }

        private int u8() { return take(1)[0] & 0xff; }

        private long u32() { return ByteBuffer.wrap(take(4)).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL; }

        private long u64() {
            long n = ByteBuffer.wrap(take(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 0) throw error("a length of " + Long.toUnsignedString(n) + " bytes at byte " + (pos - 8));
            return n;
        }

        private String text(long n) { return new String(take(n), StandardCharsets.UTF_8); }

        /** A GLOBAL's newline-ended module or name. */
        private String line() {
            int start = pos;
            while (pos < b.length && b[pos] != '\n') pos++;
            if (pos >= b.length) throw error("GLOBAL at byte " + start + " has no newline");
            return new String(b, start, pos++ - start, StandardCharsets.UTF_8);
        }

        /** LONG1/LONG4: little-endian two's complement; a Long where it fits. */
        private Object integer(byte[] le) {
            if (le.length == 0) return 0L;
            byte[] be = new byte[le.length];
            for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
            BigInteger v = new BigInteger(be);
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        }

        private Global global(String module, String name) {
            Global g = new Global(module, name);
            boolean allowed = switch (module) {
                case "collections" -> name.equals("OrderedDict");
                case "torch._utils" -> name.equals("_rebuild_tensor_v2") || name.equals("_rebuild_parameter") || name.equals("_rebuild_parameter_with_state");
                case "torch" -> STORAGES.containsKey(name);
                default -> false;
            };
            if (!allowed) throw new IllegalArgumentException(where + " asks for global " + g + "; only torch's tensor globals are read (" + ALLOWED + "), and nothing in the file is run");
            return g;
        }

        private Object call(Object f, Object args, int at) {
            if (!(f instanceof Global g)) throw error("REDUCE at byte " + at + " calls a " + typeName(f) + ", not one of torch's tensor globals");
            if (!(args instanceof Tuple(List<Object> a))) throw error("REDUCE at byte " + at + " gives " + g + " a " + typeName(args) + ", not a tuple of arguments");
            return switch (g.toString()) {
                case "collections.OrderedDict" -> {
                    if (!a.isEmpty()) throw error("collections.OrderedDict at byte " + at + " is given arguments; torch.save writes its items with SETITEMS");
                    yield new LinkedHashMap<>();
                }
                case "torch._utils._rebuild_tensor_v2" -> {
                    if (a.size() < 6 || a.size() > 7 || !(a.get(0) instanceof Storage s) || !(a.get(1) instanceof Long offset) || !(a.get(2) instanceof Tuple size)
                            || !(a.get(3) instanceof Tuple stride) || !(a.get(4) instanceof Boolean))
                        throw error("_rebuild_tensor_v2 at byte " + at + " is given " + a.stream().map(TorchSave::typeName).toList()
                                + "; torch writes (storage, offset, size, stride, requires_grad, hooks[, metadata])");
                    yield new TensorRef(s, offset, longs(size, at), longs(stride, at));
                }
                case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                    if (a.isEmpty() || !(a.getFirst() instanceof TensorRef t)) throw error(g + " at byte " + at + " is not given a tensor");
                    yield t;
                }
                default -> throw error(g + " is called at byte " + at + "; torch.save names storage types only in a storage's persistent id");
            };
        }

        private long[] longs(Tuple t, int at) {
            long[] r = new long[t.items().size()];
            for (int i = 0; i < r.length; i++) {
                if (!(t.items().get(i) instanceof Long v)) throw error("a tensor's size or stride at byte " + at + " holds a " + typeName(t.items().get(i)) + ", not an int");
                r[i] = v;
            }
            return r;
        }

        /** A storage from its persistent id ('storage', torch.TypeStorage, key, location, numel); one key is one storage. */
        private Storage persistent(Object pid, int at) {
            if (!(pid instanceof Tuple(List<Object> p)) || p.size() != 5 || !"storage".equals(p.get(0)) || !(p.get(1) instanceof Global type) || !type.module().equals("torch")
                    || !(p.get(2) instanceof String key) || !(p.get(3) instanceof String) || !(p.get(4) instanceof Long numel) || numel < 0)
                throw error("persistent id at byte " + at + " is not ('storage', torch.<Type>Storage, key, location, numel)");
            Storage s = new Storage(key, type.name(), numel);
            Storage seen = storages.putIfAbsent(key, s);
            if (seen != null && !seen.equals(s)) throw error("storage " + key + " is named as " + seen.numel() + " torch." + seen.type() + " and as " + numel + " torch." + type.name());
            return s;
        }

        private static Map<Object, Object> dictOf(Object o) {
            @SuppressWarnings("unchecked") Map<Object, Object> m = (Map<Object, Object>) o;
            return m;
        }

        private Map<Object, Object> dict(Object o, int at) {
            if (!(o instanceof Map<?, ?>)) throw error("SETITEM at byte " + at + " on a " + typeName(o) + ", not a dict");
            return dictOf(o);
        }

        private List<Object> list(Object o, int at) {
            if (!(o instanceof ArrayList<?>)) throw error("APPEND at byte " + at + " on a " + typeName(o) + ", not a list");
            @SuppressWarnings("unchecked") List<Object> l = (List<Object>) o;
            return l;
        }

        private void setItems(Map<Object, Object> m, List<Object> kv, int at) {
            if (kv.size() % 2 != 0) throw error("SETITEMS at byte " + at + " has an odd number of values");
            for (int i = 0; i < kv.size(); i += 2) {
                Object k = kv.get(i);
                if (k instanceof Map<?, ?> || k instanceof List<?>) throw error("a dict key at byte " + at + " is a " + typeName(k) + ", which Python cannot hash");
                m.put(k, kv.get(i + 1));
            }
        }
    }
}
