#!/usr/bin/env bash
# Builds the GPU check kit into target/gpu-kit: everything gpu/check.sh needs on a Linux x86-64
# machine with an NVIDIA GPU, Python + PyTorch (CUDA), cmake and a C++ compiler, but no Java and
# no network (docs/performance.md, "GPU").
#   jre.tar.xz  a jlink'd Java 17 runtime, with the JNI headers (for the JNI build)
#   lib/  the -Pcuda application's jar and the jars its verify and bench commands load (no CPU
#         libtorch: the machine's own torch is loaded)
#   jni/  DJL 0.36.0's PyTorch JNI sources (<shared>/djl-jni) + djl/utils.h from a DJL 0.36.0
#         source checkout + the javac-generated JNI header, built there against that torch
# Prints the kit's size with the working tree's and fails above 60 MiB (KIT_LIMIT_MIB): the most
# that travels to a lent GPU machine is 64 MiB.
# Usage: DJL_SRC=<DJL 0.36.0 checkout, its git directory, or ../shared/djl-jni> gpu/make-kit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-target/gpu-kit}
SHARED=${MOA_SHARED_DIR:-../shared}
DJL_SRC=${DJL_SRC:?set DJL_SRC to a DJL 0.36.0 source checkout (for api/src/main/native/djl/utils.h)}
JDK=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}

./mvnw -q -B package -Pcuda -DskipTests
rm -rf "$KIT" && mkdir -p "$KIT/lib"

# the check runs the command line (verify, bench), which never starts Quarkus: the application jar
# and the jars those commands load (found with -Xlog:class+load on the dry run), on a plain class
# path. The same classes as the server's step; not the HTTP stack, OpenTelemetry's exporters
# (gRPC, protobuf) or the prebuilt JNI for torch 2.7.1 (check.sh builds one for the machine's torch).
cp target/quarkus-app/app/*.jar "$KIT/lib/"
for jar in ai.djl.api ai.djl.pytorch.pytorch-engine ai.djl.huggingface.tokenizers net.java.dev.jna.jna \
    com.fasterxml.jackson.core.jackson-core com.fasterxml.jackson.core.jackson-databind \
    com.fasterxml.jackson.core.jackson-annotations com.google.code.gson.gson info.picocli.picocli \
    dk.brics.automaton.automaton org.slf4j.slf4j-api org.jboss.slf4j.slf4j-jboss-logmanager \
    org.jboss.logging.jboss-logging org.jboss.logmanager.jboss-logmanager io.smallrye.common.smallrye-common \
    io.quarkus.quarkus-bootstrap-runner io.quarkus.quarkus-vertx-latebound-mdc-provider; do
  found=$(ls target/quarkus-app/lib/main/"$jar"-*.jar target/quarkus-app/lib/boot/"$jar"-*.jar 2>/dev/null || true)
  [ -n "$found" ] || { echo "make-kit: no $jar jar in target/quarkus-app" >&2; exit 1; }
  cp $found "$KIT/lib/"
done

# the tokenizers jar carries Rust natives for four platforms (~50 MB): keep linux-x86_64's
tok=$(ls "$KIT"/lib/ai.djl.huggingface.tokenizers-*.jar)
zip -q -d "$tok" 'native/lib/linux-aarch64/*' 'native/lib/osx-aarch64/*' 'native/lib/win-x86_64/*'

# a Java runtime of the modules the app uses at run time, with include/ for cmake's FindJNI.
# (jdeps also lists java.desktop and jdk.compiler, reached only from code paths the app never
# runs; the CPU dry run of check.sh proves the smaller set.) Stored uncompressed and packed with
# xz: 13 MB instead of 61 MB, so kit + working tree stay under what travels to a GPU machine.
modules=java.base,java.logging,java.management,java.naming,java.net.http,java.prefs,java.rmi,java.security.sasl
modules=$modules,java.sql,java.transaction.xa,java.xml,jdk.crypto.ec,jdk.management,jdk.unsupported,jdk.zipfs
"$JDK/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --compress=0 --output "$KIT/jre"
tar -C "$KIT" -cJf "$KIT/jre.tar.xz" jre && rm -rf "$KIT/jre"

jni="$KIT/jni"
mkdir -p "$jni/engines/pytorch" "$jni/api/src/main/native/djl" "$jni/include"
cp -r "$SHARED/djl-jni/engines/pytorch/pytorch-native" "$jni/engines/pytorch/"
if [ -f "$DJL_SRC/api/src/main/native/djl/utils.h" ]; then
  cp "$DJL_SRC/api/src/main/native/djl/utils.h" "$jni/api/src/main/native/djl/"
else
  git --git-dir="$DJL_SRC" show v0.36.0:api/src/main/native/djl/utils.h > "$jni/api/src/main/native/djl/utils.h"
fi
classes=$(mktemp -d)
"$JDK/bin/javac" -h "$jni/include" -d "$classes" \
  "$SHARED/djl-jni/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
rm -rf "$classes"
cp gpu/check.sh "$KIT/"

# what travels to a lent device: the working tree (tracked and untracked, not ignored) plus the kit
LIMIT_MIB=${KIT_LIMIT_MIB:-60}
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
kit=$(du -sb "$KIT" | cut -f1)
total=$(( (tree + kit) / 1048576 ))
echo "kit: $KIT $((kit / 1048576)) MiB + working tree $((tree / 1048576)) MiB = $total MiB (limit $LIMIT_MIB MiB)"
if [ "$total" -gt "$LIMIT_MIB" ]; then
  echo "make-kit: $total MiB is over the $LIMIT_MIB MiB that may travel to a GPU machine" >&2
  exit 1
fi
