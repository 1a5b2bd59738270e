/**
 * The analytical cost model: device specs ({@link org.tessel.cost.DeviceSpec}), the work of a node
 * ({@link org.tessel.cost.Work}), what a tactic says about itself
 * ({@link org.tessel.cost.TacticFeatures}), the model that turns them into a predicted
 * {@link org.tessel.cost.Cost} ({@link org.tessel.cost.CostModel}), and the fit of its free
 * parameters to measured kernel times ({@link org.tessel.cost.Calibration}).
 */
package org.tessel.cost;
