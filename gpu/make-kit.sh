#!/usr/bin/env bash
# Builds the GPU check kit into target/gpu-kit: everything gpu/check.sh needs on a Linux x86-64
# machine with an NVIDIA GPU, Python + PyTorch (CUDA), cmake and a C++ compiler, but no Java and
# no network (docs/performance.md, "GPU").
#   jre.tar.xz  a jlink'd Java 17 runtime, with the JNI headers (for the JNI build)
#   app/  the application built with -Pcuda: no CPU libtorch; the machine's own torch is loaded
#   jni/  DJL 0.36.0's PyTorch JNI sources (<shared>/djl-jni) + djl/utils.h from a DJL 0.36.0
#         source checkout + the javac-generated JNI header, built there against that torch
# Usage: DJL_SRC=<DJL 0.36.0 checkout, or its git directory> gpu/make-kit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-target/gpu-kit}
SHARED=${MOA_SHARED_DIR:-../shared}
DJL_SRC=${DJL_SRC:?set DJL_SRC to a DJL 0.36.0 source checkout (for api/src/main/native/djl/utils.h)}
JDK=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}

./mvnw -q -B package -Pcuda -DskipTests
rm -rf "$KIT" && mkdir -p "$KIT"
cp -r target/quarkus-app "$KIT/app"

# the tokenizers jar carries Rust natives for four platforms (~50 MB): keep linux-x86_64's
tok=$(ls "$KIT"/app/lib/main/ai.djl.huggingface.tokenizers-*.jar)
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
echo "kit: $KIT ($(du -sh "$KIT" | cut -f1); the working tree travels beside it)"
