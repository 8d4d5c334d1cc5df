#!/usr/bin/env bash
# Refresh the installers' lock files: exact versions + sha256 hashes of everything that goes into the frozen app
# (the app's dependencies and PyInstaller), one file per edition and system, resolved by `uv pip compile` from
# pyproject.toml. Developers' `pip install -e .` is NOT pinned by these; only packaging/build_* and CI use them.
#
#   pip install uv                     (any recent uv; these were made with uv 0.13.9)
#   packaging/lock.sh                  every lock this machine can resolve (cpu: linux, windows, macos)
#   packaging/lock.sh cpu linux-x86_64 one lock
#   packaging/lock.sh cu128            the CUDA editions: needs https://download.pytorch.org (see below)
#
# Torch comes from where each edition's wheel lives:
#   cpu   linux-x86_64    torch==X+cpu from PyTorch's CPU index (PyPI's Linux wheel is a CUDA build).
#                         TORCH_FIND_LINKS=DIR takes it from a folder holding that very wheel instead of the index.
#   cpu   windows-x86_64  torch==X from PyPI: its Windows wheel is the CPU build
#   cpu   macos-arm64     torch==X from PyPI: the CPU + MPS build (macOS 14+ wheels)
#   cu128 linux-x86_64, windows-x86_64: torch==X+cu128 and its nvidia-* libraries from PyTorch's cu128 index
# Install from a lock:  pip install --require-hashes --no-deps -r packaging/locks/<edition>-<system>.txt
#                       (+ --extra-index-url https://download.pytorch.org/whl/<edition> for a +cpu/+cu128 torch)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
UV=${UV:-uv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PYTHON_VERSION=3.11
EDITIONS=${1:-cpu}
SYSTEMS=${2:-}

lock() {  # edition system
    local edition=$1 system=$2 platform torch_pin args=()
    case $system in
        linux-x86_64) platform=x86_64-manylinux_2_34 ;;   # glibc 2.34+: PySide6 6.10+ wheels need it
        windows-x86_64) platform=x86_64-pc-windows-msvc ;;
        macos-arm64) platform=aarch64-apple-darwin; export MACOSX_DEPLOYMENT_TARGET=14.0 ;;  # torch's wheels: 14+
        *) echo "unknown system $system" >&2; return 2 ;;
    esac
    case $edition-$system in
        cpu-linux-x86_64)
            torch_pin="torch==$TORCH_VERSION+cpu"
            if [ -n "${TORCH_FIND_LINKS:-}" ]; then args+=(--find-links "$TORCH_FIND_LINKS")
            else args+=(--torch-backend cpu); fi ;;
        cpu-windows-x86_64|cpu-macos-arm64) torch_pin="torch==$TORCH_VERSION" ;;
        cu128-linux-x86_64|cu128-windows-x86_64) torch_pin="torch==$TORCH_VERSION+cu128"; args+=(--torch-backend cu128) ;;
        *) echo "no $edition edition for $system" >&2; return 2 ;;
    esac
    local pins
    pins=$(mktemp)
    echo "$torch_pin" > "$pins"
    "$UV" pip compile pyproject.toml --extra package --generate-hashes --quiet \
        --python-version "$PYTHON_VERSION" --python-platform "$platform" --override "$pins" "${args[@]}" \
        --custom-compile-command "packaging/lock.sh $edition $system" \
        -o "packaging/locks/$edition-$system.txt"
    rm -f "$pins"
    echo "packaging/locks/$edition-$system.txt: $(grep -c '^[a-zA-Z]' "packaging/locks/$edition-$system.txt") packages"
}

for edition in $EDITIONS; do
    case $edition in
        cpu) systems=${SYSTEMS:-"linux-x86_64 windows-x86_64 macos-arm64"} ;;
        cu128) systems=${SYSTEMS:-"linux-x86_64 windows-x86_64"} ;;
        *) echo "unknown edition $edition (cpu | cu128)" >&2; exit 2 ;;
    esac
    for system in $systems; do lock "$edition" "$system"; done
done
