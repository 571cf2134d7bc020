#!/usr/bin/env bash
# Rebuilds the one native library the jar carries (src/main/resources/dev/moaserve/native/):
# mkl_vendor.c as a 5 KB shared object with no dependencies (MklKernels.java says why). The built
# file is committed, so neither the build nor a user needs a C compiler; gcc 12 gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")"
out=../resources/dev/moaserve/native/linux-x86_64/libmoa_mkl_vendor.so
gcc -shared -fPIC -O2 -nostdlib -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,noseparate-code \
  -Wl,--hash-style=both -s -o "$out" mkl_vendor.c
echo "$out: $(stat -c %s "$out") bytes"
