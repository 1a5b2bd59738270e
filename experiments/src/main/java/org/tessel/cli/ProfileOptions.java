package org.tessel.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tessel.ir.Graph;
import org.tessel.ir.io.TextFiles;
import org.tessel.ir.onnx.OnnxExporter;
import org.tessel.ir.onnx.OnnxImporter;
import org.tessel.ir.text.IrParser;
import org.tessel.ir.zoo.Zoo;
import org.tessel.ir.zoo.ZooOptions;
import org.tessel.runtime.engine.profile.OptimizationProfile;
import org.tessel.runtime.engine.profile.ShapeSpecializer;
import picocli.CommandLine.Option;

/**
 * Optimization profiles on the command line, as trtexec takes them: {@code --min-shapes},
 * {@code --opt-shapes} and {@code --max-shapes}, each {@code NAME:DxDx...[,NAME:DxD...]}; the k-th
 * occurrence of each flag makes profile k, so repeating the triple adds profiles.
 */
final class ProfileOptions {
    @Option(names = {"--min-shapes", "--minShapes"}, paramLabel = "NAME:DxD,...", description = "Smallest input shapes of an optimization profile (repeat the min/opt/max triple for more profiles).")
    List<String> min = new ArrayList<>();
    @Option(names = {"--opt-shapes", "--optShapes"}, paramLabel = "NAME:DxD,...", description = "Shapes the profile's plan is solved at.")
    List<String> opt = new ArrayList<>();
    @Option(names = {"--max-shapes", "--maxShapes"}, paramLabel = "NAME:DxD,...", description = "Largest input shapes of the profile (memory is planned for them).")
    List<String> max = new ArrayList<>();

    boolean given() { return !min.isEmpty() || !opt.isEmpty() || !max.isEmpty(); }

    /** The profiles, or a refusal naming what is missing or out of order. */
    List<OptimizationProfile> profiles() {
        if (min.size() != opt.size() || min.size() != max.size())
            throw new IllegalArgumentException("optimization profiles need --min-shapes, --opt-shapes and --max-shapes once per profile; got " + min.size() + ", " + opt.size()
                    + " and " + max.size());
        List<OptimizationProfile> out = new ArrayList<>();
        for (int k = 0; k < min.size(); k++)
            out.add(OptimizationProfile.of(k, OptimizationProfile.parseShapes(min.get(k), "--min-shapes"), OptimizationProfile.parseShapes(opt.get(k), "--opt-shapes"),
                    OptimizationProfile.parseShapes(max.get(k), "--max-shapes")));
        return out;
    }

    /**
     * The model whose shapes vary: an ONNX file as it is (symbolic dimensions kept, external data read
     * in); a zoo or text-IR model written as ONNX at batch 1, whose batch then varies by rebatching.
     * Each profile is checked against it at min, opt and max, naming the profile, the input and the dimension.
     */
    static ShapeSpecializer source(ModelOptions m, List<OptimizationProfile> profiles) throws java.io.IOException {
        String name = m.name();
        String flag = m.batch != null ? "--batch" : !m.dims.isEmpty() ? "--dim" : !m.shapes.isEmpty() ? "--shapes" : null;
        if (flag != null) throw new IllegalArgumentException(flag + " fixes a shape; with optimization profiles the shapes come from --min-shapes/--opt-shapes/--max-shapes");
        ShapeSpecializer s;
        if (name.startsWith("zoo:")) {
            ZooOptions d = ZooOptions.defaults();
            Graph g = Zoo.build(name.substring(4), new ZooOptions(1, m.seq != null ? m.seq : d.sequenceLength(), m.layers != null ? m.layers : d.layers(), m.seed));
            s = new ShapeSpecializer(OnnxExporter.toModel(g), name);
        } else if (name.endsWith(".tir")) {
            Path p = Path.of(name);
            s = new ShapeSpecializer(OnnxExporter.toModel(IrParser.parse(TextFiles.read(p), p.toString())), p.getFileName().toString());
        } else {
            if (m.seq != null || m.layers != null) throw new IllegalArgumentException((m.seq != null ? "--seq" : "--layers") + " applies to zoo models; with profiles an ONNX model's sizes come from the profile shapes");
            Path p = Path.of(name);
            if (!java.nio.file.Files.exists(p)) throw new IllegalArgumentException("no such model file: " + name + " (give an .onnx or .tir file, or zoo:NAME)");
            s = new ShapeSpecializer(OnnxImporter.readModel(p), p.getFileName().toString());
        }
        for (int k = 0; k < profiles.size(); k++)
            for (OptimizationProfile.Point pt : OptimizationProfile.Point.values())
                s.sizes(profiles.get(k).at(pt), "profile " + k + " " + pt.name().toLowerCase(java.util.Locale.ROOT) + " shapes");
        return s;
    }
}
