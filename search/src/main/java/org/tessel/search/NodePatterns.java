package org.tessel.search;

import java.util.regex.Pattern;
import org.tessel.ir.Node;

/**
 * The node patterns of user rules ({@link PrecisionRule}, {@link ForcedChoice}): a glob ({@code *} any
 * run, {@code ?} one character) that matches a node when it matches the node's name, its qualified
 * op name or its op's plain name.
 */
final class NodePatterns {
    private NodePatterns() {}

    static boolean matches(String glob, Node n) {
        Pattern p = glob(glob);
        return p.matcher(n.name()).matches() || p.matcher(n.opName()).matches() || p.matcher(n.op().name()).matches();
    }

    static Pattern glob(String g) {
        StringBuilder sb = new StringBuilder();
        for (char c : g.toCharArray()) {
            if (c == '*') sb.append(".*");
            else if (c == '?') sb.append('.');
            else sb.append(Pattern.quote(String.valueOf(c)));
        }
        return Pattern.compile(sb.toString());
    }
}
