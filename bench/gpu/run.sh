#!/bin/sh
# Runs the GPU benchmarks from the pack made by bench/gpu/pack.js, on a machine with a GPU driver
# and nothing else. Either point it at the pack, or run the copy inside an unpacked pack:
#
#   sh run.sh taylorlens-gpu.tgz [--size full|tiny] [--software] [--dir DIR]
#   tar -xzf taylorlens-gpu.tgz && sh taylorlens-gpu-pack/run.sh [--size full|tiny] [--software]
# (the pack needs only sh, tar and gzip on the GPU machine: it carries a static busybox for its xz)
#
# It finds the NVIDIA Vulkan ICD (or writes one for libGLX_nvidia.so.0), uses the packed Vulkan
# loader if the system has none, runs `node bench/run.js gpu.` and prints bench/results/latest.json.
#   --size tiny   small convnet (checks the path; not a timing)     default: full
#   --software    no GPU: Dawn's OpenGL ES on Mesa's llvmpipe (EGL surfaceless) instead of Vulkan
#   --dir DIR     where to unpack (default: a new folder under ${TMPDIR:-/tmp})
# Environment passed through: TAYLORLENS_DAWN_BACKEND, TAYLORLENS_DAWN_OPTIONS, VK_ICD_FILENAMES.
set -eu

pack=""
size="full"
software=0
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size="$2"; shift 2 ;;
    --software) software=1; shift ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) pack="$1"; shift ;;
  esac
done

# Unpacks an xz payload: with xz, else the static busybox shipped beside it, else python3.
unxz_to_tar() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" | tar -C "$2" -xf -
  elif [ -x "$(dirname "$1")/busybox" ]; then "$(dirname "$1")/busybox" xz -dc "$1" | tar -C "$2" -xf -
  elif command -v python3 >/dev/null 2>&1; then python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1" | tar -C "$2" -xf -
  else echo "run.sh: cannot unpack $1: no xz, busybox or python3" >&2; exit 1
  fi
}

if [ -n "$pack" ]; then
  [ -f "$pack" ] || { echo "run.sh: no pack at $pack" >&2; exit 1; }
  [ -n "$dir" ] || dir="$(mktemp -d "${TMPDIR:-/tmp}/taylorlens-gpu.XXXXXX")"
  mkdir -p "$dir"
  t0=$(date +%s)
  case "$pack" in
    *.tar.xz|*.txz) unxz_to_tar "$pack" "$dir" ;;
    *) # the pack: a tar.gz holding payload.tar.xz and a static busybox
      tar -C "$dir" -xzf "$pack"
      unxz_to_tar "$dir/taylorlens-gpu-pack/payload.tar.xz" "$dir"
      rm -f "$dir/taylorlens-gpu-pack/payload.tar.xz" ;;
  esac
  echo "run.sh: unpacked $pack into $dir in $(( $(date +%s) - t0 )) s"
  root="$dir/taylorlens-gpu"
else
  root="$(cd "$(dirname "$0")" && pwd)"
  if [ ! -x "$root/bin/node" ] && [ -f "$root/payload.tar.xz" ]; then
    # run.sh inside an opened pack (tar -xzf taylorlens-gpu.tgz): unpack the payload beside it
    unxz_to_tar "$root/payload.tar.xz" "$root/.."
    root="$(cd "$root/../taylorlens-gpu" && pwd)"
  fi
  [ -x "$root/bin/node" ] || { echo "run.sh: give the pack file, or run the run.sh inside an opened pack" >&2; exit 1; }
fi

if [ "$software" = 1 ]; then
  export TAYLORLENS_DAWN_BACKEND="${TAYLORLENS_DAWN_BACKEND:-opengles}"
  export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}"
  export TAYLORLENS_GPU_BENCH_ALLOW_SOFTWARE=1
else
  export TAYLORLENS_DAWN_BACKEND="${TAYLORLENS_DAWN_BACKEND:-vulkan}"
  # The NVIDIA ICD: where drivers and the NVIDIA container toolkit put it.
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
      for f in "$d"/nvidia_icd*.json; do
        [ -f "$f" ] && { VK_ICD_FILENAMES="$f"; break 2; }
      done
    done
  fi
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    # Containers started without the "graphics" driver capability lack the json but may have the library.
    glx="$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}') || true)"
    [ -n "$glx" ] || glx="$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2>/dev/null | head -n1 || true)"
    if [ -n "$glx" ]; then
      VK_ICD_FILENAMES="$root/nvidia_icd.json"
      printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$glx" > "$VK_ICD_FILENAMES"
      echo "run.sh: no nvidia_icd.json found; wrote one for $glx"
    fi
  fi
  if [ -n "${VK_ICD_FILENAMES:-}" ]; then
    export VK_ICD_FILENAMES
    export VK_DRIVER_FILES="$VK_ICD_FILENAMES" # the name newer Vulkan loaders read
    echo "run.sh: Vulkan ICD $VK_ICD_FILENAMES"
  else
    echo "run.sh: no NVIDIA Vulkan ICD found (the driver's Vulkan part, or NVIDIA_DRIVER_CAPABILITIES=graphics in containers); trying the loader's defaults" >&2
  fi
  # Dawn dlopens libvulkan.so.1: use the system's, else the one in the pack.
  if ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1') && [ -f "$root/lib/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "run.sh: using the packed Vulkan loader"
  fi
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

export TAYLORLENS_GPU_BENCH_SIZE="$size"
cd "$root"
cat PACK-INFO 2>/dev/null || true
t0=$(date +%s)
./bin/node bench/run.js gpu.
echo "run.sh: benchmarks took $(( $(date +%s) - t0 )) s"
cat bench/results/latest.json
