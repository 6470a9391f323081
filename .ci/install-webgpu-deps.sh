#!/bin/sh
# Installs what Dawn (the `webgpu` npm package) needs to find a WebGPU adapter on a machine
# WITHOUT a GPU: Mesa's software OpenGL (llvmpipe) through EGL, used headless with
# EGL_PLATFORM=surfaceless (taylorlens sets it when no display is set). Debian 12 (bookworm).
#
#   libegl1          glvnd's EGL loader (libEGL.so.1)
#   libegl-dev       the unversioned libEGL.so symlink: Dawn dlopens "libEGL.so", not ".so.1"
#   libegl-mesa0     Mesa's EGL vendor library (surfaceless platform)
#   libgl1-mesa-dri  Mesa's swrast_dri.so, i.e. llvmpipe (pulls libllvm15)
#
# Vulkan is not needed: Debian 12's lavapipe lacks shaderUniform*ArrayDynamicIndexing, so Dawn
# refuses it and taylorlens falls back to OpenGL ES. On a GPU machine use the vendor's Vulkan
# driver instead (see docs/webgpu.md); this script is for CI and GPU-less machines.
# Idempotent: does nothing when every package is installed. Needs root (CI images run as root).
set -eu

PACKAGES="libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "webgpu deps already installed: $PACKAGES"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-webgpu-deps.sh: run as root (or install sudo)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # shellcheck disable=SC2086
  $SUDO apt-get install -y --no-install-recommends $missing
fi

# The files Dawn's OpenGL ES path loads; fail loudly if a package moved them.
for f in libEGL.so libEGL_mesa.so.0 dri/swrast_dri.so; do
  if ! ls /usr/lib/*-linux-gnu*/"$f" >/dev/null 2>&1; then
    echo "install-webgpu-deps.sh: /usr/lib/<arch>/$f is missing after installing $PACKAGES" >&2
    exit 1
  fi
done
echo "webgpu deps ready (Mesa $(dpkg-query -W -f='${Version}' libegl-mesa0)); Dawn uses backend=opengles with EGL_PLATFORM=surfaceless"
