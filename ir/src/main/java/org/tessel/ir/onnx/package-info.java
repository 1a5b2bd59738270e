/**
 * ONNX import and export, and the ONNX conformance runner.
 *
 * <ul>
 *   <li>{@link org.tessel.ir.onnx.OnnxImporter} reads a model (opsets 9 to 21 of the default domain;
 *       newer opsets are read with opset-21 meaning) into a verified {@link org.tessel.ir.Graph},
 *       rewriting older op forms into the current ones ({@code LegacyForms}) and folding constant
 *       subgraphs. Errors are {@link org.tessel.ir.onnx.OnnxImportException}s naming the file, the
 *       node and the problem; their {@code kind()} tells "not supported" from "broken".</li>
 *   <li>{@link org.tessel.ir.onnx.OnnxExporter} writes a graph as an opset-21 model with
 *       initializers and value_info, so an optimized graph opens in ordinary ONNX tools.</li>
 *   <li>{@link org.tessel.ir.onnx.OnnxTensors} reads and writes single tensors (the
 *       {@code input_i.pb}/{@code output_i.pb} files of ONNX's backend tests).</li>
 *   <li>{@link org.tessel.ir.onnx.Conformance} runs backend-test cases through import and the
 *       reference interpreter.</li>
 * </ul>
 *
 * <h2>Running the conformance cases</h2>
 *
 * The JUnit tests {@code OnnxNodeConformanceTest} and {@code SharedModelsTest} run them against the
 * directory in the {@code tessel.shared} system property (default {@code ../shared}, i.e.
 * {@code /work/shared}), and skip, saying so, where it is absent:
 * <pre>
 * mvn -o -q -pl ir -am test -Dtest='OnnxNodeConformanceTest' -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 * From the command line, after {@code mvn -o -q -pl ir -am test-compile}:
 * <pre>
 * CP=ir/target/classes:plugins-api/target/classes:$(ls ~/.m2/repository/com/google/protobuf/protobuf-java/4.31.1/*.jar)
 * java -cp $CP org.tessel.ir.onnx.Conformance /work/shared/onnx-node            # all 1,884 node cases
 * java -cp $CP org.tessel.ir.onnx.Conformance /work/shared/onnx-node '^test_resize' --no-skips
 * java -cp $CP org.tessel.ir.onnx.Conformance /work/shared/models --atol 1e-4     # the real models
 * </pre>
 * Arguments: {@code DIR [name-regex] [--rtol X] [--atol Y] [--timeout SECONDS] [--no-skips]}. DIR is
 * one case folder or a folder of them. The defaults are ONNX's node-case tolerance (rtol 1e-3,
 * atol 1e-7); a {@code conformance.properties} file ({@code rtol=}, {@code atol=}) in DIR or a
 * case folder sets that directory's tolerance. The output has a line per failing case
 * ({@code FAIL test_foo: output 0 element 17: expected 0.5, got 0.49 (shape [2,3])}), a line per
 * skipped case ({@code skip test_x: op Foo not supported}), a per-op table, and last
 * {@code N passed, N failed, N skipped}; the exit status is 1 when a case failed.
 *
 * <p>Known failures are listed with their reasons in {@code expected-failures.txt} beside
 * {@code Conformance}; a listed case that fails counts as skipped.
 */
package org.tessel.ir.onnx;
