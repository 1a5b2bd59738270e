package org.tessel.runtime.llm;

import java.util.List;

/**
 * A multi-turn conversation: turn 0 arrives at {@code arrivalSeconds}; each later turn arrives {@link Turn#thinkSeconds}
 * after the previous turn's last token (the user reading and typing) and continues the previous context: its prompt is
 * everything before (every earlier turn's tokens and outputs) followed by its own new tokens. Greedy, base model.
 */
public record Session(String id, double arrivalSeconds, List<Turn> turns) {
    /** One turn: the user's new tokens, at most {@code maxNewTokens} out, arriving {@code thinkSeconds} after the previous turn finished (ignored for turn 0). */
    public record Turn(long[] tokens, int maxNewTokens, double thinkSeconds) {
        public Turn {
            if (tokens.length == 0) throw new IllegalArgumentException("a turn brings at least one new token");
            if (maxNewTokens < 1) throw new IllegalArgumentException("a turn generates at least 1 token, got " + maxNewTokens);
            if (!(thinkSeconds >= 0)) throw new IllegalArgumentException("think time " + thinkSeconds + " s is negative");
        }
    }

    public Session {
        if (turns.isEmpty()) throw new IllegalArgumentException("session " + id + " has no turns");
        if (arrivalSeconds < 0) throw new IllegalArgumentException("session " + id + ": arrival time " + arrivalSeconds + " s is negative");
        turns = List.copyOf(turns);
    }

    /** The request id of turn {@code k}: {@code id/k}. */
    public String turnId(int k) { return id + "/" + k; }

    /** Tokens the session's context holds at its end (every turn's tokens and outputs at most). */
    public int maxContext() {
        int n = 0;
        for (Turn t : turns) n += t.tokens().length + t.maxNewTokens();
        return n;
    }
}
