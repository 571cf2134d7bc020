#!/usr/bin/env bash
# The GPU check: moa-serve's `verify` on the reference cases (float32, float16, bfloat16), decode
# tokens/s at B = 1/8/64/256 (float16 and bfloat16) with its GFLOP/s, host syncs per step and the
# fraction of the device's matmul peak, prefill tokens/s at 1,000 tokens, and the same decode on
# this machine's CPU in the same run for the ratio; with the machine's own PyTorch, no Java
# install, no network. Prints one summary line (docs/deploy.md "GPU"):
#   gpu_check device=… name=… torch=… jni=… float32=… float16=… bfloat16=… decode_… prefill_… cpu_… status=pass|FAIL
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

# DJL's JNI, built against this torch where DJL looks for it:
# $DJL_CACHE_DIR/pytorch/<version>-<flavor>-<platform>/0.36.0-libdjl_torch.so
jni=built
dir="$DJL_CACHE_DIR/pytorch/$TORCH_VERSION-$TORCH_FLAVOR-linux-x86_64"
if [ -f "$dir/0.36.0-libdjl_torch.so" ]; then
  jni=cached   # by an earlier run with the same WORK
else
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

# the command line on a plain class path (the kit's lib/: the application and what verify and bench load)
app() { "$JAVA" -Xmx8g --enable-native-access=ALL-UNNAMED -cp "$KIT/lib/*" dev.moaserve.Main "$@" 2>>"$WORK/app.log"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

status=0
results=()
for dtype in float32 float16 bfloat16; do
  worst=0; greedy=""; incremental=""
  for case in tiny wide; do
    ref=src/test/resources/reference/$case
    line=$(app verify --device "$DEVICE" --dtype "$dtype" "$ref" "$ref/vectors.safetensors") || rc=$?
    log "verify $case $dtype: ${line:-$(tail -1 "$WORK/app.log")}"
    [ "${rc:-0}" = 0 ] || status=1; unset rc
    [ -n "$line" ] || { tail -20 "$WORK/app.log" >&2; status=1; continue; }
    worst=$(printf '%s\n%s\n' "$worst" "$(echo "$line" | field max_abs_logits)" | sort -g | tail -1)
    greedy="$greedy${greedy:+,}$(echo "$line" | field greedy_match)"
    incremental="$incremental${incremental:+,}$(echo "$line" | field incremental_greedy_match)/$(echo "$line" | field max_abs_greedy_logits)"
  done
  results+=("$dtype=max_abs_logits:$worst,greedy:$greedy,incremental:$incremental")
done

# the device's matmul peak, measured by torch in the same run (dense [n, n] x [n, n])
peak() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, time, torch
dev = "cuda" if sys.argv[1] != "cpu" else "cpu"
dt = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(sys.argv[2], torch.float32)
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
print(f"{2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9:.1f}")
PYEOF
}

# decode and prefill on the device: float16 and bfloat16 on a GPU; the dry run's CPU: float32
if [ "$DEVICE" = cpu ]; then dtypes=(float32); batches=1,8,64; else dtypes=(float16 bfloat16); batches=1,8,64,256; fi
points=()
for dtype in "${dtypes[@]}"; do
  app bench --device "$DEVICE" --dtype "$dtype" --batches "$batches" --quick > "$WORK/bench-$dtype.txt" || status=1
  cat "$WORK/bench-$dtype.txt" >&2
  p=$(peak "$DEVICE" "$dtype" || echo 0)
  for config in moa-shakespeare d512; do
    tps=$(grep "^device_decode config=$config" "$WORK/bench-$dtype.txt" | field tokens_per_s | paste -sd/ - || true)
    [ -n "$tps" ] || continue
    gf=$(grep "^device_decode config=$config" "$WORK/bench-$dtype.txt" | field gflops | paste -sd/ - || true)
    syncs=$(grep "^device_decode config=$config" "$WORK/bench-$dtype.txt" | field syncs_per_step | paste -sd/ - || true)
    best=$(echo "$gf" | tr / '\n' | sort -g | tail -1)
    of=$(awk -v g="$best" -v p="$p" 'BEGIN { printf "%.4f", (p > 0) ? g / p : 0 }')
    points+=("decode_${config}_${dtype}_tokens_per_s_b${batches//,//}=$tps gflops=$gf of_peak_best=$of syncs_per_step=$syncs")
  done
  pre=$(grep "^device_prefill" "$WORK/bench-$dtype.txt" | field tokens_per_s || true)
  points+=("prefill_1000_${dtype}_tokens_per_s=${pre:-none} matmul_peak_${dtype}_gflops=$p")
done

# the same decode on this machine's CPU, in the same run: the ratio the device buys
cpu_tps=""
if [ "$DEVICE" != cpu ]; then
  app bench --device cpu --dtype float32 --batches 1,8,64 --quick > "$WORK/bench-cpu.txt" || status=1
  cat "$WORK/bench-cpu.txt" >&2
  cpu_tps=$(grep "^device_decode config=moa-shakespeare" "$WORK/bench-cpu.txt" | field tokens_per_s | paste -sd/ - || true)
  dev_tps=$(grep "^device_decode config=moa-shakespeare" "$WORK/bench-${dtypes[0]}.txt" | field tokens_per_s | head -3 | paste -sd/ - || true)
  ratio=$(paste -d' ' <(echo "$dev_tps" | tr / '\n') <(echo "$cpu_tps" | tr / '\n') | awk '{ printf "%s%.2f", (NR > 1) ? "/" : "", ($2 > 0) ? $1 / $2 : 0 }')
  points+=("cpu_float32_tokens_per_s_b1/8/64=$cpu_tps device_over_cpu_b1/8/64=$ratio")
fi

echo "gpu_check device=$DEVICE name='$DEVICE_NAME' torch=$TORCH_VERSION+$TORCH_FLAVOR jni=$jni ${results[*]} ${points[*]} status=$([ $status = 0 ] && echo pass || echo FAIL)"
exit $status
