#!/usr/bin/env bash
# Builds the container images with podman and runs the JVM image the way k8s/base runs it
# (read-only root, tmpfs /tmp, no capabilities, non-root, a memory limit), then checks what an
# operator relies on: readiness time, a completion, a stream, /metrics, the user, container
# arguments reaching the app, JAVA_OPTS_APPEND appending, and a SIGTERM that drains live streams.
# The GPU image is built as far as it can be without its CUDA download (stage "app").
#
# The base image is made here from Debian's packages (debootstrap minbase + the Temurin 25 JDK
# of this machine), a stand-in for eclipse-temurin:25-jre-noble, which cannot be pulled here; it
# is kept in podman's store, so later runs reuse it. Skipped, with a message, where podman cannot
# be installed (not Linux x86-64, not root, no apt, no JDK 25).
#
#   bash docker/test-images.sh        (after ./mvnw verify; rebuilds target/quarkus-app)
set -euo pipefail
cd "$(dirname "$0")/.."
. docker/live-streams.sh

skip() { echo "test-images: skipped: $*"; exit 0; }
fail() { echo "test-images: FAILED: $*" >&2; exit 1; }
step() { echo "test-images: $*"; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || skip "needs Linux x86-64 (found $(uname -s)-$(uname -m))"
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman with runc, apt-get)"
command -v apt-get >/dev/null || skip "no apt-get to install podman"
JDK25=${JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$JDK25/bin/java" ] || skip "no JDK 25 at $JDK25 (set JDK25): the image's AOT cache needs one"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  step "installing podman, runc, debootstrap"
  { apt-get update -q && apt-get install -y -q podman runc debootstrap; } >/tmp/test-images-apt.log 2>&1 \
    || skip "podman, runc or debootstrap cannot be installed (see /tmp/test-images-apt.log)"
fi

work=$(mktemp -d)
cleanup() {
  podman "${PODMAN_FLAGS[@]}" rm -f moa-image-check >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# these machines' podman: no default ulimits (the sandbox refuses raising them), runc, cgroupfs
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
PODMAN_FLAGS=(--runtime runc --cgroup-manager cgroupfs)
p() { podman "${PODMAN_FLAGS[@]}" "$@"; }
p info >/dev/null 2>&1 || fail "podman is installed but does not run: $(p info 2>&1 | tail -1)"

secs() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.1f", b - a }'; }

# --- the bases, made once: Debian minbase (the GPU image's stand-in), and + Temurin 25 (the JVM image's) ---
BASE=localhost/moa-base:bookworm-temurin25
PLAIN_BASE=localhost/moa-base:bookworm
if ! p image exists "$BASE" || ! p image exists "$PLAIN_BASE"; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  # the Debian mirror this machine's apt uses (deb822 .sources or a classic sources.list line)
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || skip "no Debian mirror found in apt's sources for debootstrap"
  step "making the base image $BASE (debootstrap --variant=minbase $codename)"
  t=$(secs)
  debootstrap --variant=minbase "$codename" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  rm -rf "$work/rootfs/var/cache/apt/"*.bin
  tar -C "$work/rootfs" -c . | p import - "$PLAIN_BASE" >/dev/null
  mkdir -p "$work/rootfs/opt/java"
  cp -a "$JDK25" "$work/rootfs/opt/java/openjdk"
  rm -rf "$work/rootfs/opt/java/openjdk/jmods" "$work/rootfs/opt/java/openjdk/lib/src.zip"
  tar -C "$work/rootfs" -c . | p import \
    --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV JAVA_HOME=/opt/java/openjdk' - "$BASE" >/dev/null
  rm -rf "$work/rootfs"
  step "base image made in $(since "$t") s"
fi

# --- the JVM image ---
step "packaging the app with JDK 25 (-Paot layout)"
JAVA_HOME="$JDK25" ./mvnw -B -q package -Paot -DskipTests >"$work/package.log" 2>&1 || { tail -30 "$work/package.log"; fail "package -Paot"; }
step "building docker/Dockerfile.jvm"
t=$(secs)
p build --network host --build-arg BASE="$BASE" -f docker/Dockerfile.jvm -t localhost/moa-serve:jvm . >"$work/build-jvm.log" 2>&1 \
  || { tail -40 "$work/build-jvm.log"; fail "building Dockerfile.jvm"; }
build_s=$(since "$t")
size_mb=$(( $(p image inspect --format '{{.Size}}' localhost/moa-serve:jvm) / 1000000 ))
base_mb=$(( $(p image inspect --format '{{.Size}}' "$BASE") / 1000000 ))
grep -q 'AOTCache creation is complete' "$work/build-jvm.log" || fail "the image build made no AOT cache"
native_jar=$(p run --rm --entrypoint sh localhost/moa-serve:jvm -c 'stat -c %s /app/lib/main/ai.djl.pytorch.pytorch-native-cpu-*.jar')
[ "$native_jar" -lt 1000000 ] || fail "the image still carries libtorch inside the pytorch-native jar ($native_jar bytes)"
step "built in $build_s s: $size_mb MB (base $base_mb MB), pytorch-native jar $native_jar bytes"

# --- run it as k8s/base does ---
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
RUN_AS_K8S=(--read-only --tmpfs /tmp:rw,size=256m --cap-drop ALL --security-opt no-new-privileges --memory 4g)
t=$(secs)
p run -d --name moa-image-check "${RUN_AS_K8S[@]}" -p "127.0.0.1:$port:8080" localhost/moa-serve:jvm >/dev/null
url="http://127.0.0.1:$port"
ready=0
for _ in $(seq 1 600); do
  if curl -sf "$url/q/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  [ "$(p inspect -f '{{.State.Running}}' moa-image-check)" = true ] || break
  sleep 0.1
done
[ $ready -eq 1 ] || { p logs moa-image-check 2>&1 | tail -30; fail "the container never became ready"; }
ready_s=$(since "$t")
# (captured first: with pipefail, grep -q closing the pipe early would fail a long log's writer)
logs=$(p logs moa-image-check 2>&1)
grep -q 'ready on cpu' <<<"$logs" || fail "no 'ready on' line in the container's log"

uid=$(p exec moa-image-check id -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid, not 10001"
if p exec moa-image-check sh -c 'echo x > /app/written' 2>/dev/null; then fail "the root filesystem is writable"; fi
caps=$(p exec moa-image-check sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')
[ "$caps" = 0000000000000000 ] || fail "effective capabilities $caps"

completion=$(curl -s "$url/v1/completions" -H 'Content-Type: application/json' \
  -d '{"prompt":"ROMEO:","max_tokens":24,"seed":1,"temperature":0.8}')
echo "$completion" | grep -q '"finish_reason":"length"' || fail "completion: $completion"
stream=$(curl -sN "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"Speak."}],"max_tokens":16,"stream":true}')
[ "$(echo "$stream" | grep -c '^data: {')" -ge 2 ] && echo "$stream" | tail -3 | grep -q '^data: \[DONE\]' \
  || fail "stream: $stream"
metrics=$(curl -s "$url/metrics")
grep -q '^moa_requests_total' <<<"$metrics" || fail "/metrics has no moa_requests_total"

# SIGTERM (podman stop, as the kubelet does) while streams run: every stream ends with [DONE]
streams=8
start_streams "$work" $streams 240 "$url"
t=$(secs)
p stop -t 40 moa-image-check >/dev/null
stop_s=$(since "$t")
wait
exit_code=$(p inspect -f '{{.State.ExitCode}}' moa-image-check)
drained=$(streams_done "$work" $streams)
# the log of a container that just exited can lag behind it: look a few times, then show it
logged=0
for _ in $(seq 1 10); do
  grep -q 'drain' <<<"$(p logs moa-image-check 2>&1)" && { logged=1; break; }
  sleep 0.5
done
[ $logged -eq 1 ] || { p logs moa-image-check 2>&1 | tail -30; fail "no drain in the container's log (exit code $exit_code)"; }
[ $drained -eq $streams ] || fail "only $drained of $streams streams ended with [DONE] after SIGTERM"
[ "$exit_code" = 143 ] || [ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM"
p rm -f moa-image-check >/dev/null

# container arguments reach the app; JAVA_OPTS_APPEND appends to the defaults
help=$(p run --rm "${RUN_AS_K8S[@]}" localhost/moa-serve:jvm --help 2>&1) || fail "--help: $help"
echo "$help" | grep -q '^Usage: moa-serve' || fail "--help did not reach the app: $help"
warm=$(p run --rm "${RUN_AS_K8S[@]}" localhost/moa-serve:jvm warmup 2>&1) || fail "warmup: $warm"
echo "$warm" | grep -q '^ok: engine' && ! echo "$warm" | grep -q 'Listening on' || fail "warmup did not reach the app: $warm"
flags=$(p run --rm "${RUN_AS_K8S[@]}" -e JAVA_OPTS_APPEND='-XX:+PrintFlagsFinal -Dx=1' localhost/moa-serve:jvm --version 2>&1)
echo "$flags" | grep -Eq 'MaxRAMPercentage += 25' || fail "JAVA_OPTS_APPEND replaced the defaults"
echo "$flags" | grep -Eq 'PrintFlagsFinal += true' || fail "JAVA_OPTS_APPEND was not applied"

# --- the GPU image, as far as it builds here: everything but the CUDA libtorch download ---
step "building docker/Dockerfile.gpu --target app (-Pcuda app)"
./mvnw -B -q package -Pcuda -DskipTests >"$work/package-cuda.log" 2>&1 || { tail -30 "$work/package-cuda.log"; fail "package -Pcuda"; }
p build --network host --build-arg BASE="$PLAIN_BASE" \
  --target app -f docker/Dockerfile.gpu -t localhost/moa-serve:gpu-app . >"$work/build-gpu.log" 2>&1 \
  || { tail -40 "$work/build-gpu.log"; fail "building Dockerfile.gpu (stage app)"; }
# without its CUDA libtorch (the download is the final stage) and offline, the app must say so, not hang
gpu=$(timeout 120 podman "${PODMAN_FLAGS[@]}" run --rm "${RUN_AS_K8S[@]}" --network none --user 10001 -e DJL_OFFLINE=true \
  localhost/moa-serve:gpu-app warmup 2>&1 || true)
echo "GPU image stage app, warmup without libtorch: $(echo "$gpu" | tail -1)"
gpu_help=$(p run --rm "${RUN_AS_K8S[@]}" --user 10001 localhost/moa-serve:gpu-app --help 2>&1) || fail "GPU image --help: $gpu_help"
echo "$gpu_help" | grep -q '^Usage: moa-serve' || fail "GPU image: arguments do not reach the app"
step "restoring target/quarkus-app to the default build"
./mvnw -B -q package -DskipTests >"$work/package.log" 2>&1 || { tail -30 "$work/package.log"; fail "package"; }

echo "image_check jvm build_s=$build_s size_mb=$size_mb base_mb=$base_mb ready_s=$ready_s uid=$uid readonly_root=yes" \
  "caps=none completion=ok stream=ok metrics=ok drain=$drained/$streams stop_s=$stop_s exit=$exit_code" \
  "args=ok java_opts_append=ok gpu_stage_app=built gpu_download=not-run status=pass"
