package org.tessel.search.accuracy;

/** No plan keeps the accuracy budget: even the most precise plan the constraints allow is predicted over it. */
public final class UnreachableBudgetException extends IllegalStateException {
    public UnreachableBudgetException(String message) { super(message); }
}
