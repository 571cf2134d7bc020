#!/usr/bin/env bash
# The GPU check: moa-serve's `verify` on the reference cases (float32 and float16) and decode
# tokens/s at B = 1/8/64 on the device, with the machine's own PyTorch, no Java install, no network.
# Prints one summary line:
#   gpu_check device=… torch=… jni=… float32=<max_abs_logits>,<greedy>,<incremental> float16=… tokens_per_s=… matmul_tflops=…
# Usage, from the repository root with the kit in target/gpu-kit (gpu/make-kit.sh):
#   gpu/check.sh [cuda|cpu]      (cpu: the dry run of everything but CUDA)
# Environment: KIT (kit directory), WORK (scratch: JNI build, DJL cache), PYTHON (a python with torch).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cuda}
KIT=${KIT:-target/gpu-kit}
WORK=${WORK:-$(mktemp -d)}
PY=${PYTHON:-python3}
mkdir -p "$WORK"
log() { echo "gpu/check: $*" >&2; }
# the kit's Java runtime, unpacked with Python's tarfile (no xz tool needed)
if [ ! -x "$WORK/jre/bin/java" ]; then
  "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$KIT/jre.tar.xz" "$WORK"
fi
JRE="$(cd "$WORK/jre" && pwd)"
JAVA="$JRE/bin/java"

# the torch this machine has: version, library directory, CMake prefix, CUDA flavour, device name
eval "$("$PY" - "$DEVICE" <<'PYEOF'
import os, re, sys, torch
dev = sys.argv[1]
print("TORCH_VERSION=" + re.match(r"\d+\.\d+\.\d+", torch.__version__).group(0))
print("TORCH_LIB=" + os.path.join(os.path.dirname(torch.__file__), "lib"))
print("TORCH_CMAKE=" + getattr(torch.utils, "cmake_prefix_path", ""))
print("TORCH_FLAVOR=" + ("cu" + torch.version.cuda.replace(".", "") if torch.version.cuda else "cpu"))
name = torch.cuda.get_device_name(0) if dev != "cpu" and torch.cuda.is_available() else "cpu"
print("DEVICE_NAME='" + name.replace("'", "") + "'")
PYEOF
)"
log "torch $TORCH_VERSION ($TORCH_FLAVOR) at $TORCH_LIB; device $DEVICE ($DEVICE_NAME)"
export PYTORCH_LIBRARY_PATH="$TORCH_LIB" PYTORCH_VERSION="$TORCH_VERSION" PYTORCH_FLAVOR="$TORCH_FLAVOR" \
  DJL_CACHE_DIR="$WORK/djl-cache" DJL_OFFLINE=true DJL_DEFAULT_ENGINE=PyTorch

# DJL's JNI: the prebuilt one in the pytorch-jni jar matches torch 2.7.1 only; otherwise build it
# against this torch, where DJL looks for it: $DJL_CACHE_DIR/pytorch/<version>-<flavor>-<platform>/
jni=prebuilt
dir="$DJL_CACHE_DIR/pytorch/$TORCH_VERSION-$TORCH_FLAVOR-linux-x86_64"
if [ -f "$dir/0.36.0-libdjl_torch.so" ]; then
  jni=built   # by an earlier run with the same WORK
elif [ "$TORCH_VERSION" != "2.7.1" ]; then
  jni=built
  src="$WORK/jni"
  rm -rf "$src" && cp -r "$KIT/jni" "$src"
  build="$src/engines/pytorch/pytorch-native/build"
  mkdir -p "$build" && cp -r "$src/include" "$build/include"
  defs=()
  case "$TORCH_VERSION" in 1.13.*|2.0.1|2.1.*) defs+=(-DPT_VERSION=V1_13_X) ;; esac
  [ "$TORCH_FLAVOR" != cpu ] && defs+=(-DUSE_CUDA=1)
  log "building DJL's JNI against torch $TORCH_VERSION (log: $WORK/jni-build.log)"
  if ! (cd "$build" && JAVA_HOME="$JRE" cmake -DCMAKE_BUILD_TYPE=Release \
          -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" "${defs[@]}" .. \
        && cmake --build . -- -j "$(nproc)") > "$WORK/jni-build.log" 2>&1; then
    grep -m 20 -E "error|Error" "$WORK/jni-build.log" >&2 || tail -20 "$WORK/jni-build.log" >&2
    echo "gpu_check device=$DEVICE torch=$TORCH_VERSION jni=build-failed (see $WORK/jni-build.log)"
    exit 1
  fi
  mkdir -p "$dir" && cp "$build/libdjl_torch.so" "$dir/0.36.0-libdjl_torch.so"
fi

app() { "$JAVA" -Xmx4g --enable-native-access=ALL-UNNAMED -jar "$KIT/app/quarkus-run.jar" "$@" 2>>"$WORK/app.log"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

status=0
results=()
for dtype in float32 float16; do
  worst=0; greedy=""; incremental=""
  for case in tiny wide; do
    ref=src/test/resources/reference/$case
    line=$(app verify --device "$DEVICE" --dtype "$dtype" "$ref" "$ref/vectors.safetensors") || rc=$?
    log "verify $case $dtype: ${line:-$(tail -1 "$WORK/app.log")}"
    if [ -z "$line" ] && [ "$DEVICE" = cpu ] && [ "$dtype" = float16 ] && grep -q "not implemented for 'Half'" "$WORK/app.log"; then
      worst=unsupported-by-this-torch-on-cpu; break   # old CPU builds of torch have no half matmul; CUDA does
    fi
    [ "${rc:-0}" = 0 ] || status=1; unset rc
    [ -n "$line" ] || { tail -20 "$WORK/app.log" >&2; status=1; continue; }
    worst=$(printf '%s\n%s\n' "$worst" "$(echo "$line" | field max_abs_logits)" | sort -g | tail -1)
    greedy="$greedy${greedy:+,}$(echo "$line" | field greedy_match)"
    incremental="$incremental${incremental:+,}$(echo "$line" | field incremental_greedy_match)/$(echo "$line" | field max_abs_greedy_logits)"
  done
  results+=("$dtype=max_abs_logits:$worst,greedy:$greedy,incremental:$incremental")
done

bench_dtype=float16; [ "$DEVICE" = cpu ] && bench_dtype=float32
app bench --device "$DEVICE" --dtype "$bench_dtype" --batches 1,8,64 --quick > "$WORK/bench.txt" || status=1
cat "$WORK/bench.txt" >&2
tps=$(grep "^device_decode config=moa-shakespeare" "$WORK/bench.txt" | field tokens_per_s | paste -sd/ - || true)
tps512=$(grep "^device_decode config=d512" "$WORK/bench.txt" | field tokens_per_s | paste -sd/ - || true)

# the device's matmul peak measured by torch in the same run, for the fraction the engine reaches
peak=$("$PY" - "$DEVICE" "$bench_dtype" <<'PYEOF'
import sys, time, torch
dev = "cuda" if sys.argv[1] != "cpu" else "cpu"
dt = torch.float16 if sys.argv[2] == "float16" else torch.float32
n = 8192 if dev == "cuda" else 1024
a, b = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
for _ in range(3):
    a @ b
if dev == "cuda":
    torch.cuda.synchronize()
reps = 20 if dev == "cuda" else 5
t = time.perf_counter()
for _ in range(reps):
    a @ b
if dev == "cuda":
    torch.cuda.synchronize()
print(f"{2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12:.3f}")
PYEOF
)

echo "gpu_check device=$DEVICE name='$DEVICE_NAME' torch=$TORCH_VERSION+$TORCH_FLAVOR jni=$jni ${results[*]} bench_dtype=$bench_dtype tokens_per_s_b1/8/64=$tps d512_tokens_per_s_b1/8/64=$tps512 matmul_tflops=$peak status=$([ $status = 0 ] && echo pass || echo FAIL)"
exit $status
