#!/usr/bin/env bash
# Prepares the GPU run of the runtime module. Run HERE (not on the GPU machine):
#   1. builds the jars of the command line's classpath and runtime's test classes (mvn package, tests not run),
#   2. bundles a Java 25 runtime, the runtime classpath, JUnit's console launcher and the test
#      classes into $GPU_DIR (default .gpu in the checkout, git-ignored; it travels with `carry`),
#   3. writes $GPU_DIR/suite.sh, the command for the GPU machine: the gpu-tagged tests through the
#      console launcher, then the micro-benchmarks, printing a short summary and the table last.
# Then call the device tool: run(command="bash .gpu/suite.sh", carry=[".gpu"]).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gpu=${GPU_DIR:-$root/.gpu}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
junit_platform=${JUNIT_PLATFORM_VERSION:-1.13.4}
cd "$root"

stage=$root/runtime/target/gpu-bundle
rm -rf "$stage" && mkdir -p "$stage/deps"
# the command line's classpath (experiments: runtime, search, ...) so `tessel build/run` work there too
mvn -q -DskipTests package dependency:copy-dependencies -pl experiments,examples/gridsample,examples/fast-relu -am \
    -DincludeScope=runtime -DoutputDirectory="$stage/deps" -Dmdep.prependGroupId=false
mvn -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_platform \
    -DoutputDirectory="$stage/deps"
for mod in plugins-api ir passes cost-model tactic-library search runtime experiments; do cp $mod/target/tessel-$mod-*.jar "$stage/deps/"; done
rm -f "$stage"/deps/*-tests.jar "$stage"/deps/*-sources.jar
# JCuda's natives jar carries a 24 MB nvPTXCompiler binding Tessel never loads (it compiles with NVRTC through FFM):
# dropped, so the bundle and the shared models fit the device tool's 64 MiB transfer
(cd "$stage/deps" && zip -q -d jcuda-natives-*-linux-x86_64.jar 'lib/libJNvPTXCompiler*' >/dev/null 2>&1 || true)
# ONNX Runtime's jar carries every platform's library (93 MB): the GPU machine is linux-x64, and the transfer holds 64 MiB
(cd "$stage/deps" && zip -q -d onnxruntime-*.jar 'ai/onnxruntime/native/win-*' 'ai/onnxruntime/native/osx-*' 'ai/onnxruntime/native/linux-aarch64/*' >/dev/null 2>&1 || true)
# XChart's PDF export (pdfbox, fontbox) is not used on the GPU machine (plots are PNG): room for a shared model more
rm -f "$stage"/deps/pdfbox-*.jar "$stage"/deps/fontbox-*.jar
"$JAVA_HOME/bin/jar" cf "$stage/deps/tessel-runtime-gpu-tests.jar" -C runtime/target/test-classes .
# the GridSample plugin example: its kernel's GPU test (NVRTC + launch under the plugin ABI) runs in the 'plans' stage
cp examples/gridsample/target/tessel-example-gridsample-*.jar "$stage/deps/"
rm -f "$stage"/deps/tessel-example-gridsample-*-tests.jar "$stage"/deps/tessel-example-gridsample-*-sources.jar
"$JAVA_HOME/bin/jar" cf "$stage/deps/tessel-examples-gpu-tests.jar" -C examples/gridsample/target/test-classes .

# GPU test classes by name (the bundled JRE has no jar file system, so no package scanning)
selectors=$(cd runtime/target/test-classes && find . -name '*GpuTest.class' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort | sed 's/^/--select-class=/' | tr '\n' ' ')
[[ -n $selectors ]] || { echo "gpu-run.sh: no *GpuTest classes in runtime/target/test-classes" >&2; exit 1; }

rm -rf "$gpu/lib"
"${TESSEL_SHARED:-$root/../shared}/device/bundle.sh" "$gpu" "$stage/deps"
# the fast-relu plugin example stays off the classpath: the GPU run loads it with --plugins, as a user would
rm -rf "$gpu/plugins" && mkdir -p "$gpu/plugins"
cp examples/fast-relu/target/tessel-example-fast-relu-*.jar "$gpu/plugins/"
rm -f "$gpu"/plugins/*-tests.jar "$gpu"/plugins/*-sources.jar

cat > "$gpu/suite.sh" <<'SUITE'
#!/usr/bin/env bash
# Runs on the GPU machine from the repository root: gpu-tagged tests, then micro-benchmarks.
# Full logs go to $OUT (tests.log, results.txt, bench.txt); the summary and table print last.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/tessel-gpu-out}
mkdir -p "$out"
echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader 2>&1 | head -2
ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^lib(nvrtc|cublasLt|cublas)\.so\.[0-9]+$' | tr '\n' ' '; echo
ldconfig -p 2>/dev/null | grep -oE 'libcudnn(_cnn|_ops|_graph)?\.so\.9 ' | sort -u | tr '\n' ' '; echo
echo "== gpu-tagged tests"
start=$(date +%s)
timeout 420 "$here/java" -Xss8m -cp "$here/lib/*" org.junit.platform.console.ConsoleLauncher execute \
    @SELECTORS@ --include-tag=gpu --details=tree --disable-banner --disable-ansi-colors \
    --reports-dir="$out/junit" > "$out/tests.log" 2>&1
rc=$?
echo "tests exit code $rc after $(( $(date +%s) - start )) s"
grep '^RESULT|' "$out/tests.log" > "$out/results.txt" || true
grep -E '^\[ *[0-9]+ tests (successful|failed|aborted|skipped)' "$out/tests.log" || tail -5 "$out/tests.log"
echo "-- failures (first 25)"
grep -E 'FAIL' "$out/results.txt" | cut -c1-230 | head -25
grep -E '✘|MethodSource|=> ' "$out/tests.log" | grep -v '✔' | cut -c1-230 | head -30
echo "-- results per kernel (cases, worst max-abs and relative-L2 error)"
awk -F'|' '$8 ~ /^ok/ && $3 != "-" { split($2, w, " "); key = w[1] " " $3 (w[2] ~ /^(FP32|TF32|FP16|BF16)$/ ? " " w[2] : "") ($2 ~ / tf32/ ? " tf32" : ""); n[key]++; if ($5 + 0 > ma[key]) ma[key] = $5 + 0; if ($6 + 0 > mr[key]) mr[key] = $6 + 0 }
    END { for (k in n) printf "%-45s %4d cases  max-abs %.2e  rel-L2 %.2e\n", k, n[k], ma[k], mr[k] }' "$out/results.txt" | sort
grep -E '^RESULT\|(device|cuBLASLt version|cuBLAS version|cuDNN version)' "$out/results.txt" | cut -c1-200
echo "== benchmarks"
timeout 150 "$here/java" -cp "$here/lib/*" org.tessel.runtime.gpu.bench.GpuMicroBench > "$out/bench.txt" 2>&1
echo "bench exit code $?"
grep -vE '^(\||==)' "$out/bench.txt" | tail -8
grep -E '^(==|\|)' "$out/bench.txt"
SUITE
sed -i "s|@SELECTORS@|$selectors|" "$gpu/suite.sh"
chmod +x "$gpu/suite.sh"
du -sh "$gpu"
ls "$gpu/lib"
