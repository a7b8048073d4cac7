#!/usr/bin/env bash
# Installs what building rockhold needs on a fresh Debian machine and is a
# no-op when everything is present. The `rocksdb` crate runs bindgen, which
# loads libclang at build time; RocksDB itself is C++ (g++ and make are on the
# image). Safe to run repeatedly.
set -euo pipefail

have_libclang() {
  # libclang-cpp.so is a different library: bindgen needs libclang.so(.N).
  ldconfig -p 2>/dev/null | grep -qE '[[:space:]]libclang(-[0-9.]+)?\.so' && return 0
  compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null
}

missing=()
have_libclang || missing+=(libclang-dev)
command -v clang >/dev/null 2>&1 || missing+=(clang)
command -v g++ >/dev/null 2>&1 || missing+=(g++)

if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
