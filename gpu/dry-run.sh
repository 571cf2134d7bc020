#!/usr/bin/env bash
# The GPU kit's CPU dry run, as CI runs it: builds the kit (gpu/make-kit.sh, which also checks that
# it fits what travels to a GPU machine), installs the torch that `pip install torch` gives into a
# venv, and runs gpu/check.sh cpu against it: DJL's JNI built against that torch, the scripted step
# compiled by its TorchScript, verify in three precisions, bench. Everything a lent GPU would run
# but the CUDA kernels. Skipped, with a message, where pip cannot install torch or a build tool is
# missing. Leaves target/quarkus-app as the -Pcuda build (make-kit.sh's).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${MOA_SHARED_DIR:-../shared}
VENV=${VENV:-target/torch-venv}
skip() { echo "gpu dry run skipped: $*"; exit 0; }

for tool in python3 cmake g++ make zip; do
  command -v "$tool" >/dev/null 2>&1 || skip "no $tool on this machine"
done
[ -d "$SHARED/djl-jni" ] || skip "no $SHARED/djl-jni (DJL 0.36.0's JNI sources)"
if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
  rm -rf "$VENV"
  (python3 -m venv "$VENV" && timeout 900 "$VENV/bin/pip" install -q --retries 0 --timeout 15 torch) || skip "pip could not install torch"
fi

DJL_SRC="$SHARED/djl-jni" gpu/make-kit.sh
rm -rf target/gpu-dry-run
PYTHON="$VENV/bin/python" WORK=target/gpu-dry-run gpu/check.sh cpu
