#!/usr/bin/env bash
# Build the Linux release of Alignment Workbench (tested: Debian 12 x86_64, PyInstaller 6.22, Python 3.11).
# PYTHON's venv should be made from the lock: packaging/locks/cpu-linux-x86_64.txt (see .ci/run, packaging/README.md).
#
#   packaging/build_linux.sh            -> dist/alignment-workbench-<version>-<edition>-linux-<arch>.tar.gz
#                                          (+ .AppImage when appimagetool is on PATH; that part is untested)
# Environment: PYTHON (default .venv/bin/python, with the app and pyinstaller installed), BUILD_DIR, DIST_DIR,
# EDITION (cpu | cu128: the torch installed in PYTHON; only names the file), CLEAN=1 (ignore PyInstaller's cache:
# CI does), SMOKE=0 (skip running the built app's --self-test).
#
# The tarball holds AlignmentWorkbench/ (the one-folder app), the .desktop file, the icon and install.sh
# (per-user install into ~/.local, no root). Then the frozen app's own `--self-test` is run offscreen.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
DIST_DIR=${DIST_DIR:-$ROOT/dist}
ARCH=$(uname -m)
cd "$ROOT"
VERSION=$("$PYTHON" -c "import workbench; print(workbench.__version__)")
NAME=alignment-workbench-$VERSION-${EDITION:-cpu}-linux-$ARCH
START=$(date +%s)

"$PYTHON" packaging/make_icons.py "$BUILD_DIR/icons"
"$PYTHON" -m PyInstaller --noconfirm ${CLEAN:+--clean} --log-level WARN \
    --distpath "$DIST_DIR" --workpath "$BUILD_DIR/pyinstaller" packaging/workbench.spec
APP="$DIST_DIR/AlignmentWorkbench"
BUILT=$(date +%s)

# Stage the tarball: the app folder plus what a desktop needs to show it in the menu.
STAGE="$BUILD_DIR/stage/$NAME"
rm -rf "$STAGE" && mkdir -p "$STAGE"
cp -a "$APP" "$STAGE/AlignmentWorkbench"
cp packaging/linux/alignment-workbench.desktop packaging/linux/install.sh "$STAGE/"
cp resources/icons/workbench.svg "$STAGE/alignment-workbench.svg"
cp "$BUILD_DIR/icons/workbench-256.png" "$STAGE/alignment-workbench.png"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$STAGE/alignment-workbench.desktop"; fi
tar -C "$BUILD_DIR/stage" -czf "$DIST_DIR/$NAME.tar.gz" "$NAME"

# AppImage (optional): AppDir = AppRun + .desktop + icon at the top, the app under usr/lib.
if command -v appimagetool >/dev/null; then
    APPDIR="$BUILD_DIR/AppDir"
    rm -rf "$APPDIR" && mkdir -p "$APPDIR/usr/lib"
    cp -a "$APP" "$APPDIR/usr/lib/alignment-workbench"
    cp packaging/linux/AppRun "$APPDIR/AppRun"
    cp packaging/linux/alignment-workbench.desktop "$APPDIR/"
    cp "$BUILD_DIR/icons/workbench-256.png" "$APPDIR/alignment-workbench.png"
    ARCH=$ARCH appimagetool --no-appstream "$APPDIR" "$DIST_DIR/$NAME.AppImage"
fi

PACKAGED=$(date +%s)
echo "build: $(( BUILT - START )) s, package: $(( PACKAGED - BUILT )) s"
du -sh "$APP" "$DIST_DIR/$NAME.tar.gz"
# What takes the space (packaging/README.md, "Size"): the largest parts of the app folder.
du -sm "$APP/_internal"/* | sort -rn | awk 'NR <= 8 {printf "  %5d MB  %s\n", $1, $2}'  # awk reads all: no SIGPIPE under pipefail

if [ "${SMOKE:-1}" != "0" ]; then
    # The smoke test: the frozen program checks Qt, SQLite + migrations, torch in a worker, MAH-DPO training,
    # a mixture evaluation, inference with the heads and a GGUF file (workbench/cli/selftest.py).
    QT_QPA_PLATFORM=offscreen "$APP/workbench" --self-test
    echo "self-test: $(( $(date +%s) - PACKAGED )) s"
fi
