package org.tessel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessel.ir.onnx.proto.Onnx.ModelProto;
import org.tessel.ir.onnx.proto.Onnx.TensorShapeProto;
import org.tessel.ir.onnx.proto.Onnx.ValueInfoProto;

/**
 * trtexec's {@code --shapes=NAME:DxDx...} on an ONNX model: each named input's dimensions become
 * values of its symbolic dimensions (what {@code --dim NAME=VALUE} sets); a fixed dimension must
 * already have the given size.
 */
final class Shapes {
    private Shapes() {}

    static Map<String, Long> dims(Path model, List<String> specs) throws IOException {
        Map<String, Long> out = new LinkedHashMap<>();
        if (specs.isEmpty()) return out;
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(model));
        Map<String, ValueInfoProto> inputs = new LinkedHashMap<>();
        for (ValueInfoProto v : m.getGraph().getInputList()) inputs.put(v.getName(), v);
        for (var init : m.getGraph().getInitializerList()) inputs.remove(init.getName());
        for (String spec : specs) {
            int colon = spec.lastIndexOf(':');
            if (colon <= 0 || colon == spec.length() - 1) throw new IllegalArgumentException("--shapes '" + spec + "': expected NAME:DxDx..., e.g. input:1x3x224x224");
            String name = spec.substring(0, colon);
            ValueInfoProto v = inputs.get(name);
            if (v == null) throw new IllegalArgumentException("--shapes '" + spec + "': " + model + " has no input '" + name + "' (inputs: " + inputs.keySet() + ")");
            String[] parts = spec.substring(colon + 1).split("x");
            List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
            if (parts.length != dims.size())
                throw new IllegalArgumentException("--shapes '" + spec + "': input '" + name + "' has " + dims.size() + " dimensions, the shape gives " + parts.length);
            for (int i = 0; i < parts.length; i++) {
                long d;
                try {
                    d = Long.parseLong(parts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--shapes '" + spec + "': '" + parts[i] + "' is not a dimension size");
                }
                if (d < 1) throw new IllegalArgumentException("--shapes '" + spec + "': dimension " + i + " must be at least 1, got " + d);
                TensorShapeProto.Dimension dim = dims.get(i);
                if (dim.hasDimValue()) {
                    if (dim.getDimValue() != d)
                        throw new IllegalArgumentException("--shapes '" + spec + "': dimension " + i + " of input '" + name + "' is fixed at " + dim.getDimValue() + " in " + model);
                } else if (dim.hasDimParam() && !dim.getDimParam().isEmpty()) {
                    Long before = out.put(dim.getDimParam(), d);
                    if (before != null && before != d)
                        throw new IllegalArgumentException("--shapes: dimension '" + dim.getDimParam() + "' is given as " + before + " and as " + d);
                } else throw new IllegalArgumentException("--shapes '" + spec + "': dimension " + i + " of input '" + name + "' has neither a size nor a name in " + model + "; Tessel cannot set it");
            }
        }
        return out;
    }
}
