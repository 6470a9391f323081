#!/bin/sh
# Installs what the TensorBoard read-back test reads event files with, when missing (Debian, as root):
# Google's protobuf runtime for Python and protoc (Debian has no TensorBoard or TensorFlow package,
# and pip has no network here), and crcmod for an independent CRC32C.
set -eu

missing=""
command -v protoc >/dev/null 2>&1 || missing="$missing protobuf-compiler"
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 || missing="$missing python3-protobuf"
/usr/bin/python3 -c 'import crcmod.predefined' >/dev/null 2>&1 || missing="$missing python3-crcmod"
if [ -z "$missing" ]; then
  echo "tensorboard reader deps already installed: $(protoc --version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-tensorboard-reader.sh: run as root (or install sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
protoc --version
