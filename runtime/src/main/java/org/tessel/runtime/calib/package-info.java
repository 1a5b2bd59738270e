/**
 * INT8 post-training calibration, as TensorRT's calibrators do it: run the FP32 graph over
 * calibration batches on the reference interpreter, keep a 2048-bin histogram of |x| per activation
 * tensor ({@link org.tessel.runtime.calib.Histogram}), and turn each into a symmetric scale
 * (amax / 127) by one of the {@link org.tessel.runtime.calib.Calibrator}s (entropy, minmax,
 * percentile, mse). {@link org.tessel.runtime.calib.ActivationCalibration} runs it and
 * {@link org.tessel.runtime.calib.CalibrationCache} stores the scales as an editable text file.
 * Explicit quantization takes a Q/DQ model's own scales instead:
 * {@link org.tessel.runtime.calib.QdqPropagation} moves its pairs through the ops that commute with
 * quantization and {@link org.tessel.runtime.calib.ExplicitQuantization} folds them into scales,
 * weight channel scales and the nodes to run quantized; {@link org.tessel.runtime.calib.QdqGraphs}
 * writes a plan back as Q/DQ ONNX.
 */
package org.tessel.runtime.calib;
