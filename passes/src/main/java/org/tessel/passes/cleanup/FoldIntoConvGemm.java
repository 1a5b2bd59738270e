package org.tessel.passes.cleanup;

import java.util.Set;
import org.tessel.api.Attributes;
import org.tessel.api.DType;
import org.tessel.api.Shape;
import org.tessel.api.Tensor;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.passes.rules.Patterns;
import org.tessel.passes.rules.RewriteRule;
import org.tessel.passes.rules.Rewriter;

/**
 * Rules that fold per-channel affine work into the weights of a preceding Conv or Gemm:
 * BatchNormalization (inference) and constant bias adds. Named instances live in
 * {@link FoldingRules}.
 */
public final class FoldIntoConvGemm {
    private FoldIntoConvGemm() {}

    /** Which producer a rule folds into. */
    public enum Target { CONV, GEMM }

    /** Config of {@link FoldBatchNorm}. */
    public record BatchNormConfig(Target target) {}

    /** Rule that folds an inference BatchNormalization into the Conv or Gemm feeding it. */
    public static final class FoldBatchNorm implements RewriteRule {
        private final BatchNormConfig config;

        public FoldBatchNorm(BatchNormConfig config) { this.config = config; }

        @Override public String name() { return "fold-batchnorm-into-" + config.target().name().toLowerCase(); }
        @Override public Set<String> rootOps() { return Set.of("BatchNormalization"); }

        @Override public boolean matchAndRewrite(Node bn, Rewriter rw) {
            Graph g = rw.graph();
            String producerOp = config.target() == Target.CONV ? "Conv" : "Gemm";
            Node p = Patterns.producer(bn, 0, producerOp);
            if (p == null || !Patterns.singleUse(g, p.output())) return false;
            for (int i = 1; i <= 4; i++) if (!Patterns.isConstant(bn.input(i))) return false;
            if (!Patterns.isConstant(p.input(1)) || (p.input(2) != null && !Patterns.isConstant(p.input(2)))) return false;
            DType dt = p.output().type().dtype();
            if (!dt.isFloating()) return false;
            float eps = bn.attrs().getFloat("epsilon", 1e-5f);
            int channels = p.output().type().shape().dim(1);
            double[] s = new double[channels], shift = new double[channels];
            Tensor scale = bn.input(1).constantValue(), bias = bn.input(2).constantValue(),
                    mean = bn.input(3).constantValue(), var = bn.input(4).constantValue();
            if (scale.size() != channels || bias.size() != channels || mean.size() != channels || var.size() != channels) return false;
            for (int c = 0; c < channels; c++) {
                s[c] = scale.getDouble(c) / Math.sqrt(var.getDouble(c) + eps);
                shift[c] = bias.getDouble(c) - mean.getDouble(c) * s[c];
            }
            Tensor w = p.input(1).constantValue();
            Tensor oldB = p.input(2) == null ? null : p.input(2).constantValue();
            Tensor newW = Tensor.zeros(w.dtype(), w.shape());
            Tensor newB = Tensor.zeros(w.dtype(), Shape.of(channels));
            Attributes attrs = p.attrs();
            if (config.target() == Target.CONV) {
                int per = w.size() / channels;
                for (int c = 0; c < channels; c++)
                    for (int k = 0; k < per; k++) newW.setDouble(c * per + k, w.getDouble(c * per + k) * s[c]);
                for (int c = 0; c < channels; c++) newB.setDouble(c, (oldB == null ? 0 : oldB.getDouble(c)) * s[c] + shift[c]);
            } else {
                // Y = alpha * A op(B) + beta * C; scale column c of op(B) and fold the rest into a new C of shape [M]
                if (oldB != null && !(oldB.size() == channels && (oldB.rank() == 1 || oldB.shape().dim(0) == 1))) return false;
                boolean transB = attrs.getInt("transB", 0) != 0;
                int rows = w.shape().dim(0), cols = w.shape().dim(1);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) newW.setDouble(r * cols + c, w.getDouble(r * cols + c) * s[transB ? r : c]);
                float beta = attrs.getFloat("beta", 1f);
                for (int c = 0; c < channels; c++) newB.setDouble(c, (oldB == null ? 0 : beta * oldB.getDouble(c)) * s[c] + shift[c]);
                attrs = attrs.with("beta", org.tessel.api.AttrValue.of(1f));
            }
            Value wv = rw.constant(p.input(1).name() + "_bnfolded", newW);
            Value bv = rw.constant((p.input(2) == null ? p.name() + "_bias" : p.input(2).name()) + "_bnfolded", newB);
            Node folded = rw.insertBefore(p, p.opName(), p.name(), attrs, 1, p.input(0), wv, bv);
            rw.replace(bn, folded.output());
            String name = p.name();
            rw.erase(p);
            rw.takeName(folded, name);
            return true;
        }
    }

    /** Config of {@link FoldBiasAdd}. */
    public record BiasAddConfig(Target target) {}

    /** Rule that folds Add(Conv|Gemm(...), per-channel constant) into the op's bias. */
    public static final class FoldBiasAdd implements RewriteRule {
        private final BiasAddConfig config;

        public FoldBiasAdd(BiasAddConfig config) { this.config = config; }

        @Override public String name() { return "fold-bias-add-into-" + config.target().name().toLowerCase(); }
        @Override public Set<String> rootOps() { return Set.of("Add"); }

        @Override public boolean matchAndRewrite(Node add, Rewriter rw) {
            String op = config.target() == Target.CONV ? "Conv" : "Gemm";
            for (int side = 0; side < 2; side++) {
                Node p = Patterns.producer(add, side, op);
                Value c = add.input(1 - side);
                if (p == null || !Patterns.isConstant(c) || !Patterns.singleUse(rw.graph(), p.output())) continue;
                if (p.input(2) != null && !Patterns.isConstant(p.input(2))) continue;
                Shape out = p.output().type().shape();
                int channels = out.dim(1);
                if (!perChannel(c.type().shape(), out) || !add.output().type().shape().equals(out)) continue;
                if (c.type().dtype() != p.output().type().dtype()) continue;
                Tensor bias = c.constantValue();
                Tensor oldB = p.input(2) == null ? null : p.input(2).constantValue();
                Attributes attrs = p.attrs();
                if (op.equals("Gemm") && oldB != null && !(oldB.size() == channels)) continue;
                float beta = op.equals("Gemm") ? attrs.getFloat("beta", 1f) : 1f;
                Tensor nb = Tensor.zeros(p.output().type().dtype(), Shape.of(channels));
                for (int k = 0; k < channels; k++)
                    nb.setDouble(k, (oldB == null ? 0 : beta * oldB.getDouble(oldB.size() == 1 ? 0 : k)) + bias.getDouble(bias.size() == 1 ? 0 : k));
                if (op.equals("Gemm")) attrs = attrs.with("beta", org.tessel.api.AttrValue.of(1f));
                Value bv = rw.constant((p.input(2) == null ? p.name() + "_bias" : p.input(2).name()) + "_plus", nb);
                Node folded = rw.insertBefore(p, op, p.name(), attrs, 1, p.input(0), p.input(1), bv);
                rw.replace(add, folded.output());
                String name = p.name();
                rw.erase(p);
                rw.takeName(folded, name);
                return true;
            }
            return false;
        }

        /** True when a constant of shape c broadcast to out varies only along dimension 1 (or not at all). */
        static boolean perChannel(Shape c, Shape out) {
            if (c.rank() > out.rank()) return false;
            int off = out.rank() - c.rank();
            for (int i = 0; i < c.rank(); i++) {
                int od = off + i;
                if (c.dim(i) != 1 && od != 1) return false;
                if (c.dim(i) != 1 && c.dim(i) != out.dim(od)) return false;
            }
            return true;
        }
    }
}
