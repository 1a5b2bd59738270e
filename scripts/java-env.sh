# Sourced by ./tessel, ./run-tests and .ci/run: finds a JDK 25 (Tessel needs java.lang.foreign)
# and exports JAVA_HOME. Order: TESSEL_JAVA_HOME, JAVA_HOME, Temurin 25, any other JDK >= 25.
tessel_find_jdk() {
  local c
  for c in "${TESSEL_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*-25* /usr/lib/jvm/*25* /usr/lib/jvm/* /opt/java/*; do
    [[ -n $c && -x $c/bin/javac ]] || continue
    if "$c/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then echo "$c"; return 0; fi
  done
  return 1
}
if ! JAVA_HOME=$(tessel_find_jdk); then
  echo "tessel: no JDK 25 or newer found. Install one (e.g. Temurin 25 under /usr/lib/jvm) or set TESSEL_JAVA_HOME." >&2
  exit 2
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
command -v mvn >/dev/null || { echo "tessel: Maven (mvn) is not on PATH; install it (apt-get install maven)." >&2; exit 2; }
# Maven's own libraries warn on JDK 25 about sun.misc.Unsafe; those lines are noise for users.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
