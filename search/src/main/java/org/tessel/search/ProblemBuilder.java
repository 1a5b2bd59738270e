package org.tessel.search;

import org.tessel.search.baselines.RuleSearch;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import org.tessel.api.Layout;
import org.tessel.api.OpRegistry;
import org.tessel.api.Trait;
import org.tessel.api.TensorType;
import org.tessel.ir.Graph;
import org.tessel.ir.Node;
import org.tessel.ir.Value;
import org.tessel.ir.ops.TesselOps;
import org.tessel.passes.PassStatistics;
import org.tessel.passes.fusion.FusionCandidate;
import org.tessel.passes.fusion.FusionGroups;
import org.tessel.passes.fusion.FusionPatterns;
import org.tessel.passes.fusion.SiblingMerge;
import org.tessel.passes.fusion.SiblingMerges;
import org.tessel.passes.layout.LayoutAssigner;
import org.tessel.passes.rules.Rewriter;
import org.tessel.search.domain.Choice;
import org.tessel.search.domain.FusedChoice;
import org.tessel.search.domain.LiveTensor;
import org.tessel.search.domain.PrecisionPin;
import org.tessel.search.domain.Use;
import org.tessel.tactics.data.DataMovementTactics;
import org.tessel.tactics.gemm.GemmTactics;
import org.tessel.api.select.AlgorithmSelector;

/**
 * Turns a graph (after clean-up, not yet fused) into a {@link SearchProblem}: prices every node's
 * choices, every fusion candidate's fused tactics (on a fused copy of the group, so the fused
 * tactic gets the group's work) and every use's conversions, resolves user precision rules, obeys
 * forced choices (restricting the nodes they match and the fusion candidates containing them),
 * offers the choices to algorithm selectors, and records which tensors are alive at each step for
 * the memory budget. A candidate's members also get its formats as in-group choices where no
 * standalone tactic runs them there ({@link Choice#inGroup}), so a member no GPU kernel runs alone at
 * FP16 does not keep its group from running at FP16. Horizontal merges (sibling chains on one value,
 * {@code SiblingMerges}) are candidates too: merged or not is a decision, priced as the wide chain's
 * kernel plus the Split's; a merge whose input's producer fuses into the wide chain (a norm before Q/K/V) is offered
 * a second time with the producer as a member.
 */
public final class ProblemBuilder {
    private final Costing costing;
    private final List<PrecisionRule> rules;
    private final OptionalLong memoryBudget;
    private final Set<org.tessel.cost.Precision> precisions;
    private final List<ForcedChoice> forced;
    private final List<AlgorithmSelector> selectors;

    public ProblemBuilder(Costing costing, List<PrecisionRule> rules, OptionalLong memoryBudget) {
        this(costing, rules, memoryBudget, java.util.EnumSet.allOf(org.tessel.cost.Precision.class));
    }

    /** @param precisions the precisions a node may compute in (the engine's allowed set); FP32 is always among them */
    public ProblemBuilder(Costing costing, List<PrecisionRule> rules, OptionalLong memoryBudget, Set<org.tessel.cost.Precision> precisions) {
        this(costing, rules, memoryBudget, precisions, List.of(), List.of());
    }

    /**
     * @param forced    forced choices: each must match a node, and every node it matches keeps only the choices it admits
     * @param selectors algorithm selectors, offered each node's and each fusion candidate's choices in turn
     */
    public ProblemBuilder(Costing costing, List<PrecisionRule> rules, OptionalLong memoryBudget, Set<org.tessel.cost.Precision> precisions,
                          List<ForcedChoice> forced, List<AlgorithmSelector> selectors) {
        this.costing = costing;
        this.rules = List.copyOf(rules);
        this.memoryBudget = memoryBudget;
        this.precisions = java.util.EnumSet.copyOf(precisions);
        this.precisions.add(org.tessel.cost.Precision.FP32);
        this.forced = List.copyOf(forced);
        this.selectors = List.copyOf(selectors);
    }

    public SearchProblem build(Graph g) {
        List<Node> order = g.nodes();
        Map<Node, Integer> index = new IdentityHashMap<>();
        for (int i = 0; i < order.size(); i++) index.put(order.get(i), i);
        boolean layoutChoice = order.stream().anyMatch(LayoutAssigner::layoutSensitive);

        // user precision rules: each must match something
        Map<Integer, List<PrecisionRule>> rulesOf = new HashMap<>();
        for (PrecisionRule r : rules) {
            boolean any = false;
            for (Node n : order) if (r.matches(n)) { rulesOf.computeIfAbsent(index.get(n), k -> new ArrayList<>()).add(r); any = true; }
            if (!any) {
                Set<String> ops = new TreeSet<>();
                for (Node n : order) ops.add(n.opName());
                throw new IllegalArgumentException("precision rule '" + r.text() + "': no node or op in graph '" + g.name() + "' matches '" + r.pattern() + "' (ops: " + String.join(", ", ops) + ")");
            }
        }
        Map<Integer, List<ForcedChoice>> forcedOf = forcedOf(g, order, index);
        List<PrecisionPin> pins = new ArrayList<>();
        for (var e : rulesOf.entrySet())
            for (PrecisionRule r : e.getValue()) pins.add(new PrecisionPin(e.getKey(), r.text(), r.allowed()));
        pins.sort(java.util.Comparator.comparingInt(PrecisionPin::node).thenComparing(PrecisionPin::rule));

        // live ranges under the graph's schedule
        Map<Value, Integer> lastUse = new IdentityHashMap<>();
        for (int i = 0; i < order.size(); i++)
            for (Value v : order.get(i).inputs()) if (v != null && !v.isConstant()) lastUse.merge(v, i, Math::max);
        for (Value v : g.outputs()) lastUse.put(v, order.size() - 1);
        long[] base = new long[order.size()];
        List<LiveTensor> live = new ArrayList<>();
        for (Value v : g.inputs()) {
            Integer last = lastUse.get(v);
            if (last != null) for (int s = 0; s <= last; s++) base[s] += v.type().bytes();
        }
        for (int i = 0; i < order.size(); i++)
            for (Value v : order.get(i).outputs()) {
                int last = Math.max(i, lastUse.getOrDefault(v, i));
                for (int s = i; s <= last; s++)
                    live.add(new LiveTensor(s, i, v.type().numElements(), v.type().dtype().isFloating(), v.type().bytes()));
            }

        List<List<Choice>> supportedOf = new ArrayList<>();
        List<java.util.Comparator<Choice>> preferenceOf = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            Node n = order.get(i);
            // a Split of the graph as given never runs as views: only a merge's Split does, whose wide GEMM the plan runs in its
            // batched form (a lone GEMM split afterwards, as GPT-2's c_attn, writes its parts interleaved)
            List<Choice> all = costing.choices(n, i, layoutOptions(n, layoutChoice)).stream().filter(c -> !isSplitView(c)).toList();
            List<Choice> supported = all.stream().filter(c -> c.supported() && precisions.contains(c.precision())).toList();
            if (supported.isEmpty() && forcedOf.containsKey(i)) obey(n, g, forcedOf.get(i), all, supported);
            if (supported.isEmpty()) {
                boolean atOthers = all.stream().anyMatch(Choice::supported);
                throw new IllegalArgumentException(n.describe() + " in graph '" + g.name() + "': no tactic supports it" + (atOthers
                        ? " at the allowed precisions " + precisions.stream().map(org.tessel.cost.Precision::text).toList() + " (supported at: "
                          + new java.util.TreeSet<>(all.stream().filter(Choice::supported).map(c -> c.precision().text()).toList()) + ")"
                        : " (" + reasons(all) + ")"));
            }
            List<ForcedChoice> fs = forcedOf.getOrDefault(i, List.of());
            if (!fs.isEmpty()) supported = obey(n, g, fs, all, supported);
            Selectors.Selection sel = Selectors.select(selectors, n, null, supported, costing, false, g.name());
            supportedOf.add(sel.kept());
            preferenceOf.add(sel.preference());
        }

        List<Use> uses = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            Set<Value> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            for (Value v : order.get(i).inputs()) {
                if (v == null || v.isConstant() || !seen.add(v)) continue;
                Node p = v.producer();
                uses.add(use(uses.size(), v, p == null ? -1 : index.get(p), i));
            }
        }
        for (Value v : new LinkedHashSet<>(g.outputs()))
            if (v.producer() != null) uses.add(use(uses.size(), v, index.get(v.producer()), -1));

        List<SearchProblem.Candidate> cands = new ArrayList<>();
        for (FusionCandidate c : FusionPatterns.enumerate(g)) {
            int[] members = c.nodes().stream().mapToInt(index::get).toArray();
            Node fused = fusedCopy(g, c);
            Map<Format, FusedChoice> best = new LinkedHashMap<>();
            Map<Format, Choice> bestChoice = new LinkedHashMap<>();
            List<Layout> layouts = layoutOptions(fused, layoutChoice);
            // a group that computes a forced node runs the forced tactic, or is not a candidate
            List<ForcedChoice> fs = new ArrayList<>();
            for (int m : members) fs.addAll(forcedOf.getOrDefault(m, List.of()));
            List<Choice> offered = costing.choices(fused, members[0], layouts).stream()
                    .filter(ch -> ch.supported() && precisions.contains(ch.precision()) && fs.stream().allMatch(f -> f.admits(ch))).toList();
            Selectors.Selection sel = Selectors.select(selectors, fused, c.nodes().stream().map(Node::name).toList(), offered, costing, true, g.name());
            java.util.Comparator<Choice> preference = sel.preference();
            Map<Format, Choice> ruleChoice = new LinkedHashMap<>();
            for (Choice ch : sel.kept()) {
                Choice cur = bestChoice.get(ch.format());
                if (cur == null || ch.latencyPs() < cur.latencyPs() || ch.latencyPs() == cur.latencyPs() && preference.compare(ch, cur) < 0) {
                    bestChoice.put(ch.format(), ch);
                    best.put(ch.format(), FusedChoice.of(ch));
                }
                // the fixed rule's fused tactic: the fastest of those it knew (a tactic added after it is never its pick)
                Choice rc = ruleChoice.get(ch.format());
                if (!RuleSearch.afterTheRule(fused.opName(), ch)
                        && (rc == null || ch.latencyPs() < rc.latencyPs() || ch.latencyPs() == rc.latencyPs() && preference.compare(ch, rc) < 0)) ruleChoice.put(ch.format(), ch);
            }
            // a candidate no fused tactic can run would only ever be refused: leave it out
            if (best.isEmpty()) continue;
            Map<Format, FusedChoice> byRule = new LinkedHashMap<>();
            best.forEach((f, fc) -> {
                Choice ch = ruleChoice.get(f);
                byRule.put(f, ch == null ? fc : FusedChoice.of(ch));
            });
            cands.add(new SearchProblem.Candidate(cands.size(), c.kind(), members, best, touchesImage(fused), null, byRule));
        }
        Map<Value, List<Node>> users = g.users();
        for (SiblingMerge m : SiblingMerges.enumerate(g)) {
            // a merge whose members are forced runs its wide kernel on their forced tactic, or is not a candidate
            List<ForcedChoice> fs = new ArrayList<>();
            for (Node n : m.nodes()) fs.addAll(forcedOf.getOrDefault(index.get(n), List.of()));
            SearchProblem.Candidate c = mergeCandidate(g, m, index, layoutChoice, cands.size(), fs, null);
            if (c != null) cands.add(c);
            // the same merge with the merged input's producer fused into the wide chain (an RMSNormalization computed in
            // the wide GEMV's pass over x): a separate candidate overlapping the plain one, so the search takes one at most
            Node producer = m.input().producer();
            if (producer != null && producer.outputs().size() == 1 && users.getOrDefault(m.input(), List.of()).size() == m.chains().size()) {
                List<ForcedChoice> pfs = new ArrayList<>(fs);
                pfs.addAll(forcedOf.getOrDefault(index.get(producer), List.of()));
                c = mergeCandidate(g, m, index, layoutChoice, cands.size(), pfs, producer);
                if (c != null) cands.add(c);
            }
        }

        // a member of a candidate may take the candidate's formats even where no standalone tactic runs it: the
        // fused tactic does (the hard rule in-group-choice-is-fused keeps such a choice inside a fused group)
        List<SearchProblem.Node> nodes = new ArrayList<>();
        List<Integer> groupOnly = new ArrayList<>(); // nodes the rules leave no standalone choice: only a fused group runs them
        for (int i = 0; i < order.size(); i++) {
            Node n = order.get(i);
            List<PrecisionRule> rs = rulesOf.getOrDefault(i, List.of());
            List<Choice> supported = supportedOf.get(i);
            List<ForcedChoice> fs = forcedOf.getOrDefault(i, List.of());
            // a forced node runs its forced tactic: no in-group choice (which names none) stands in for it
            List<Choice> inGroup = fs.isEmpty() ? inGroupChoices(i, layoutOptions(n, layoutChoice), supported, cands) : List.of();
            List<Choice> allowed = supported.stream().filter(c -> rs.stream().allMatch(r -> r.allowed().contains(c.precision()))).toList();
            List<Choice> allowedInGroup = inGroup.stream().filter(c -> rs.stream().allMatch(r -> r.allowed().contains(c.precision()))).toList();
            if (allowed.isEmpty() && allowedInGroup.isEmpty())
                throw new IllegalArgumentException(n.describe() + ": precision rules " + PrecisionRule.texts(rs) + " leave no supported choice"
                        + (fs.isEmpty() ? "" : " with forced choice" + (fs.size() > 1 ? "s " : " ") + ForcedChoice.texts(fs))
                        + (selectors.isEmpty() ? "" : " among those the selectors kept") + " (supported precisions: "
                        + String.join(", ", new LinkedHashSet<>(supported.stream().map(c -> c.precision().text()).toList()))
                        + (inGroup.isEmpty() ? "" : "; in a fused group also: " + String.join(", ", new LinkedHashSet<>(inGroup.stream().map(c -> c.precision().text()).toList()))) + ")");
            List<Choice> choices = new ArrayList<>(SearchProblem.undominated(supported, true, preferenceOf.get(i)));
            // the fixed rule's candidates per format, where a tactic added after it dominates them (the rule strategy picks among these)
            for (Choice c : SearchProblem.undominated(supported.stream().filter(c -> !RuleSearch.afterTheRule(n.opName(), c)).toList(), true, preferenceOf.get(i)))
                if (!choices.contains(c)) choices.add(c);
            choices.addAll(inGroup);
            List<Choice> search = new ArrayList<>(SearchProblem.undominated(allowed, memoryBudget.isPresent(), preferenceOf.get(i)));
            search.addAll(allowedInGroup);
            nodes.add(new SearchProblem.Node(i, n.name(), n.opName(), choices, search, base[i]));
            if (allowed.isEmpty() && fs.isEmpty()) groupOnly.add(i);
        }
        requireAGroupFor(groupOnly, order, cands, rulesOf);
        return new SearchProblem(g.name(), nodes, cands, uses, pins, live, memoryBudget, g);
    }

    /**
     * Each node the precision rules leave no standalone choice must be in some fused group whose members can all run at
     * one of the group's formats under their rules (a group computes at one precision); otherwise no plan exists, and the
     * user's rules are why: refused naming the node, its groups and the rules of their members that exclude each format.
     */
    private void requireAGroupFor(List<Integer> groupOnly, List<Node> order, List<SearchProblem.Candidate> cands, Map<Integer, List<PrecisionRule>> rulesOf) {
        for (int i : groupOnly) {
            List<String> why = new ArrayList<>();
            boolean ok = false;
            for (SearchProblem.Candidate c : cands) {
                if (java.util.Arrays.stream(c.members()).noneMatch(m -> m == i)) continue;
                Set<org.tessel.cost.Precision> groupPrecisions = new java.util.TreeSet<>();
                for (Format f : c.fused().keySet()) if (precisions.contains(f.precision())) groupPrecisions.add(f.precision());
                Set<org.tessel.cost.Precision> common = new java.util.TreeSet<>(groupPrecisions);
                List<String> pinned = new ArrayList<>();
                for (int m : c.members())
                    for (PrecisionRule r : rulesOf.getOrDefault(m, List.of())) {
                        common.retainAll(r.allowed());
                        pinned.add(order.get(m).name() + " by '" + r.text() + "'");
                    }
                if (!common.isEmpty()) { ok = true; break; }
                if (why.size() < 3) why.add(c.kind() + " group of " + java.util.Arrays.stream(c.members()).mapToObj(m -> order.get(m).name()).toList()
                        + " (runs at " + groupPrecisions.stream().map(org.tessel.cost.Precision::text).toList() + "; members pinned: " + String.join(", ", pinned) + ")");
            }
            if (!ok) throw new IllegalArgumentException(order.get(i).describe() + ": the precision rules leave it no plan: at the precisions they allow it runs only inside a fused group, "
                    + "and a group computes at one precision, which the rules of its members exclude" + (why.isEmpty() ? " (no fused group holds it)" : ": " + String.join("; ", why)));
        }
    }

    /**
     * A horizontal merge as a candidate, priced on a merged copy of the graph: per format the wide chain's
     * fastest kernel (its fused group's, when it has a tail) plus the Split's at that format: its copies, or nothing
     * where the Split runs as views of a wide GEMM run in its batched form (equal parts). Null when no
     * format runs both, or when the wide chain's tail forms no fusion candidate (the merge would then cost a
     * kernel per tail node, which no merge is offered for). {@code forced}: the members' forced choices, each of which the
     * wide kernel must satisfy. With a {@code producer} (the merged input's, read by the chains alone) the wide chain
     * takes it in front when the merged copy has that fusion candidate (an rmsnorm_gemm of the norm and the wide
     * MatMul), and the producer is a member too; else null.
     */
    private SearchProblem.Candidate mergeCandidate(Graph g, SiblingMerge m, Map<Node, Integer> index, boolean layoutChoice, int at, List<ForcedChoice> forced, Node producer) {
        Graph copy = g.copy();
        Map<String, Node> byName = new HashMap<>();
        for (Node n : copy.nodes()) byName.put(n.name(), n);
        List<List<Node>> chains = new ArrayList<>();
        for (List<Node> c : m.chains()) chains.add(c.stream().map(n -> byName.get(n.name())).toList());
        SiblingMerges.Merged made = SiblingMerges.apply(new Rewriter(copy, OpRegistry.global(), new PassStatistics()), SiblingMerges.of(copy, chains));
        Node wide = made.wide().getFirst();
        String wideKind = null;
        List<Node> group = new ArrayList<>(made.wide());
        if (producer != null) group.addFirst(byName.get(producer.name()));
        if (group.size() > 1) {
            FusionCandidate fc = FusionPatterns.enumerate(copy).stream().filter(c -> c.nodes().equals(group)).findFirst().orElse(null);
            if (fc == null) return null;
            wideKind = fc.kind();
            wide = fusedCopy(copy, fc);
        }
        int root = index.get(m.chains().getFirst().getFirst());
        List<Choice> offered = costing.choices(wide, root, layoutOptions(wide, layoutChoice)).stream()
                .filter(ch -> ch.supported() && precisions.contains(ch.precision()) && forced.stream().allMatch(f -> f.admits(ch))).toList();
        // the algorithm selectors see the wide kernel's candidates as they see a fused group's
        List<Choice> kept = Selectors.select(selectors, wide, m.nodes().stream().map(Node::name).toList(), offered, costing, true, g.name()).kept();
        Map<Format, Choice> wideBest = fastestPerFormat(kept);
        List<Choice> splits = costing.choices(made.split(), root, layoutOptions(made.split(), layoutChoice)).stream()
                .filter(c -> c.supported() && precisions.contains(c.precision())).toList();
        boolean image = touchesImage(wide);
        Map<Format, FusedChoice> best = new LinkedHashMap<>();
        Map<Format, SearchProblem.MergeParts> parts = new LinkedHashMap<>();
        for (Choice w : wideBest.values()) {
            // a one-row output's parts lie one after another whatever kernel writes it
            boolean contiguous = DataMovementTactics.contiguousPartsWhyNot(made.split(), w.precision()) == null;
            Choice sp = null;
            for (Choice c : splits)
                if (c.precision() == w.precision() && c.format().agrees(w.format()) && (!isSplitView(c) || GemmTactics.runsBatched(w.tacticId()) || contiguous)
                        && (sp == null || c.latencyPs() < sp.latencyPs() || c.latencyPs() == sp.latencyPs() && c.tacticId().compareTo(sp.tacticId()) < 0)) sp = c;
            if (sp == null) continue;
            Format key = new Format(w.precision(), image ? w.format().imageLayout() : Layout.ANY);
            FusedChoice total = new FusedChoice(w.tacticId(), w.precision(), w.layout(), w.latencyPs() + sp.latencyPs(), w.computeUs() + sp.computeUs(),
                    w.memoryUs() + sp.memoryUs(), w.launchUs() + sp.launchUs(), Math.max(w.workspaceBytes(), sp.workspaceBytes()), w.variant());
            FusedChoice cur = best.get(key);
            if (cur == null || total.latencyPs() < cur.latencyPs()) {
                best.put(key, total);
                parts.put(key, new SearchProblem.MergeParts(FusedChoice.of(w), FusedChoice.of(sp)));
            }
        }
        if (best.isEmpty()) return null;
        List<Node> memberNodes = new ArrayList<>(m.nodes());
        if (producer != null) memberNodes.add(producer);
        int[] members = memberNodes.stream().mapToInt(index::get).toArray();
        SearchProblem.Merge merge = new SearchProblem.Merge(m.kind(), m.names(), made.wide().stream().map(Node::name).toList(), made.split().name(),
                made.wide().getFirst().opName(), wideKind, wideKind == null ? null : group.stream().map(Node::name).toList(), parts);
        return new SearchProblem.Candidate(at, SearchProblem.Candidate.MERGE, members, best, image, merge);
    }

    /** A Split as views of the wide GEMM's parts: a GEMM run in its batched form writes them one after another, and so does any kernel writing one row. */
    private static boolean isSplitView(Choice c) { return c.tacticId().equals(DataMovementTactics.SPLIT_VIEW.id()); }

    /** The fastest supported choice at each format among the allowed precisions. */
    private Map<Format, Choice> fastestPerFormat(List<Choice> choices) {
        Map<Format, Choice> out = new LinkedHashMap<>();
        for (Choice c : choices) {
            if (!c.supported() || !precisions.contains(c.precision())) continue;
            Choice cur = out.get(c.format());
            if (cur == null || c.latencyPs() < cur.latencyPs() || c.latencyPs() == cur.latencyPs() && c.tacticId().compareTo(cur.tacticId()) < 0) out.put(c.format(), c);
        }
        return out;
    }


    /**
     * The in-group choices of node {@code i}: each format of its own layouts that agrees with a fused tactic's
     * format of a candidate holding it, where no standalone choice runs it.
     */
    static List<Choice> inGroupChoices(int i, List<Layout> layouts, List<Choice> standalone, List<SearchProblem.Candidate> cands) {
        Set<Format> have = new java.util.HashSet<>();
        for (Choice c : standalone) have.add(c.format());
        Set<Format> add = new LinkedHashSet<>();
        for (SearchProblem.Candidate c : cands) {
            if (!c.contains(i)) continue;
            for (Format k : c.fused().keySet())
                for (Layout l : layouts) {
                    Format f = new Format(k.precision(), l);
                    if (f.agrees(k) && !have.contains(f)) add.add(f);
                }
        }
        List<Choice> out = new ArrayList<>();
        for (Format f : add) out.add(Choice.inGroup(i, f));
        return out;
    }

    /** Each node's forced choices; a forced choice that matches no node fails, listing the graph's ops. */
    private Map<Integer, List<ForcedChoice>> forcedOf(Graph g, List<Node> order, Map<Node, Integer> index) {
        Map<Integer, List<ForcedChoice>> out = new HashMap<>();
        for (ForcedChoice f : forced) {
            String unknown = costing.whyNoChoice(null, f.tacticId());
            if (unknown != null) throw new IllegalArgumentException("forced choice '" + f.text() + "': " + unknown);
            String noVariant = f.variant() == null ? null : costing.variantWhyNot(null, f.tacticId(), f.variant(), null);
            if (noVariant != null) throw new IllegalArgumentException("forced choice '" + f.text() + "': " + noVariant);
            boolean any = false;
            for (Node n : order) if (f.matches(n)) { out.computeIfAbsent(index.get(n), k -> new ArrayList<>()).add(f); any = true; }
            if (!any) {
                Set<String> ops = new TreeSet<>();
                for (Node n : order) ops.add(n.opName());
                throw new IllegalArgumentException("forced choice '" + f.text() + "': no node or op in graph '" + g.name() + "' matches '" + f.pattern()
                        + "' (ops: " + String.join(", ", ops) + "; node names are those of the prepared graph, see `tessel search --show-plan`)");
            }
        }
        return out;
    }

    /**
     * The supported choices of {@code n} that every forced choice admits; none fails naming the node,
     * the forced choice and why (the catalogue's reason where the tactic cannot run the node).
     */
    private List<Choice> obey(Node n, Graph g, List<ForcedChoice> fs, List<Choice> all, List<Choice> supported) {
        List<Choice> kept = supported.stream().filter(c -> fs.stream().allMatch(f -> f.admits(c))).toList();
        if (!kept.isEmpty()) return kept;
        String where = n.describe() + " in graph '" + g.name() + "'";
        for (ForcedChoice f : fs) {
            List<Choice> ofTactic = all.stream().filter(c -> c.tacticId().equals(f.tacticId())).toList();
            if (ofTactic.isEmpty()) {
                String why = costing.whyNoChoice(n, f.tacticId());
                throw new IllegalArgumentException(where + ": forced choice '" + f.text() + "' cannot be obeyed: " + (why != null ? why : f.tacticId() + " offers no choice for it"));
            }
            List<Choice> at = ofTactic.stream().filter(c -> f.admits(c.tacticId(), c.precision(), c.layout())).toList(); // its variant below
            if (at.isEmpty()) {
                Set<String> offered = new TreeSet<>();
                for (Choice c : ofTactic) offered.add(new Format(c.precision(), c.layout()).toString());
                throw new IllegalArgumentException(where + ": forced choice '" + f.text() + "' cannot be obeyed: the node is searched only at "
                        + String.join(", ", offered) + (f.layout() != null && ofTactic.stream().allMatch(c -> c.layout() == Layout.ANY)
                        ? " (it has no image tensor, so a layout does not apply: leave it out)" : ""));
            }
            List<Choice> ok = at.stream().filter(Choice::supported).toList();
            if (ok.isEmpty())
                throw new IllegalArgumentException(where + ": forced choice '" + f.text() + "' cannot be obeyed: " + f.tacticId() + " cannot run it at "
                        + new Format(at.getFirst().precision(), at.getFirst().layout()) + ": " + at.getFirst().whyNot());
            if (ok.stream().noneMatch(c -> precisions.contains(c.precision())))
                throw new IllegalArgumentException(where + ": forced choice '" + f.text() + "' cannot be obeyed: " + f.tacticId() + " runs it at "
                        + String.join(", ", new TreeSet<>(ok.stream().map(c -> c.precision().text()).toList())) + ", and the allowed precisions are "
                        + precisions.stream().map(org.tessel.cost.Precision::text).toList() + " (allow more, e.g. --fp16 or --precisions)");
            if (f.variant() != null && ok.stream().noneMatch(f::admits)) {
                Choice c = ok.stream().filter(x -> precisions.contains(x.precision())).findFirst().orElse(ok.getFirst());
                String why = costing.variantWhyNot(n, f.tacticId(), f.variant(), c.precision());
                throw new IllegalArgumentException(where + ": forced choice '" + f.text() + "' cannot be obeyed: " + (why != null ? why
                        : "its variant " + f.variant() + " is not among those priced for it (" + String.join(", ", new TreeSet<>(ok.stream().map(Choice::variant).toList())) + ")"));
            }
        }
        throw new IllegalArgumentException(where + ": forced choices " + ForcedChoice.texts(fs) + " contradict each other: no choice satisfies all of them");
    }

    private Use use(int id, Value v, int producer, int consumer) {
        TensorType t = v.type();
        boolean floating = t.dtype().isFloating();
        int kinds = Format.STORAGE.size();
        long[] reformat = new long[kinds];
        long[][] cast = new long[kinds][kinds];
        for (int a = 0; a < kinds; a++) {
            reformat[a] = Costing.ps(costing.reformatUs(floating ? t.withDType(Format.STORAGE.get(a)) : t));
            if (floating) for (int b = 0; b < kinds; b++) cast[a][b] = a == b ? 0 : Costing.ps(costing.castUs(t.withDType(Format.STORAGE.get(a)), Format.STORAGE.get(b)));
        }
        Format declared = Format.ofBoundary(t.dtype());
        return new Use(id, v.name(), producer, consumer, t, t.rank() >= 3, floating,
                producer < 0 ? declared : null, consumer < 0 ? declared : null, reformat, cast);
    }

    /** The group fused on a copy of the graph, so tactics and the cost model see a real fused node. */
    static Node fusedCopy(Graph g, FusionCandidate c) {
        Graph copy = g.copy();
        Map<String, Node> byName = new HashMap<>();
        for (Node n : copy.nodes()) byName.put(n.name(), n);
        FusionCandidate mapped = new FusionCandidate(c.kind(), c.nodes().stream().map(n -> byName.get(n.name())).toList());
        return FusionGroups.fuse(new Rewriter(copy, OpRegistry.global(), new PassStatistics()), mapped);
    }

    /**
     * Layouts a node may take: none for a node without image tensors; both for layout-sensitive
     * nodes and those that follow their input (when the graph has any layout-sensitive node at
     * all); channels-first for the rest (Reshape, Gemm... read logical order).
     */
    static List<Layout> layoutOptions(Node n, boolean graphHasLayoutChoice) {
        if (!touchesImage(n)) return List.of(Layout.ANY);
        if (graphHasLayoutChoice && (LayoutAssigner.layoutSensitive(n) || followsInput(n))) return List.of(Layout.NCHW, Layout.NHWC);
        return List.of(Layout.NCHW);
    }

    static boolean touchesImage(Node n) {
        for (Value v : n.inputs()) if (LayoutAssigner.isImage(v)) return true;
        for (Value v : n.outputs()) if (v.type().rank() >= 3) return true;
        return false;
    }

    static boolean followsInput(Node n) {
        if (n.body() != null) return n.body().nodes().stream().allMatch(b -> followsInput(b) || LayoutAssigner.layoutSensitive(b));
        String op = n.opName();
        return n.op().has(Trait.ELEMENTWISE) || op.equals("Concat") || op.equals("Split") || op.equals(TesselOps.REFORMAT);
    }

    private static String reasons(List<Choice> all) {
        if (all.isEmpty()) return "the catalogue has no tactic for this op";
        Map<String, String> first = new LinkedHashMap<>();
        for (Choice c : all) first.putIfAbsent(c.tacticId(), c.whyNot());
        List<String> parts = new ArrayList<>();
        first.forEach((t, w) -> parts.add(t + ": " + w));
        return String.join("; ", parts);
    }

}
