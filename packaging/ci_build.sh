#!/usr/bin/env bash
# The frozen-app half of .ci/run: a venv made from the Linux lock (never the test venv: that one is unpinned and
# holds the test tools), the one-folder app built from it, and the app's own --self-test; any failure fails CI.
#
# pip takes the lock's torch==2.13.0+cpu from PyTorch's CPU index (TORCH_INDEX adds it, as the GitHub workflow
# does); on the project's machines pip's configured find-links folder holds that very wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
LOCK=packaging/locks/cpu-linux-x86_64.txt
echo "== frozen app: build venv from $LOCK"
rm -rf .venv-build build dist
python3 -m venv .venv-build
.venv-build/bin/python -m pip install -q --require-hashes -r "$LOCK" ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"}
VENV=$(date +%s)
echo "venv: $(( VENV - START )) s"
echo "== frozen app: PyInstaller build, tarball, --self-test"
# nice: the build is CPU-heavy and the machine may be shared; CLEAN: no PyInstaller cache from an earlier run.
PYTHON=.venv-build/bin/python CLEAN=1 nice -n 5 packaging/build_linux.sh
echo "frozen app stage: $(( $(date +%s) - START )) s"
