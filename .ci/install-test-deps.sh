#!/usr/bin/env bash
# Machine packages the test tiers need, installed only when missing (Debian, as root):
# Chromium renders the reports; protoc, protobuf and crcmod read TensorBoard files back; Mesa's software drivers let Dawn (WebGPU) run without a GPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-chromium.sh"
bash "$here/install-redis.sh"
bash "$here/install-tensorboard-reader.sh"
if [ -f "$here/install-webgpu-deps.sh" ]; then bash "$here/install-webgpu-deps.sh"; fi
