package org.tessel.passes;

/** A counter a pass declares it reports ("nodes-removed"), with a line of help. */
public record PassStatistic(String name, String help) {}
