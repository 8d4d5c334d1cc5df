#!/usr/bin/env bash
# Build the macOS release of Alignment Workbench: PyInstaller .app bundle in a .dmg, signed and notarised when
# credentials are given.
#
# UNTESTED: no Mac was available. Written against the PyInstaller 6 manual (macOS bundles, code signing),
# `man hdiutil`, and Apple's "Customizing the notarization workflow" (notarytool); mirrors build_linux.sh (tested).
#
#   packaging/build_macos.sh                 -> dist/AlignmentWorkbench-<version>-macos-<arch>.dmg
# Environment:
#   PYTHON                       python of a venv made from packaging/locks/cpu-macos-arm64.txt
#                                (pip install --require-hashes -r ...; default .venv/bin/python). Build on the
#                                architecture you ship (arm64 runner for Apple silicon; torch has no universal2 wheel)
#   CLEAN=1, SMOKE=0             as in build_linux.sh
#   WORKBENCH_CODESIGN_IDENTITY  "Developer ID Application: Name (TEAMID)": PyInstaller then signs every binary and
#                                the bundle with the hardened runtime + packaging/macos/entitlements.plist + a secure
#                                timestamp. Unset: ad-hoc signature (runs on this Mac; Gatekeeper blocks it elsewhere).
#   NOTARY_PROFILE               a notarytool keychain profile, created once with
#                                `xcrun notarytool store-credentials NAME --apple-id ID --team-id TEAMID
#                                 --password APP_SPECIFIC_PASSWORD`; when set, the .dmg is notarised and stapled.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
DIST_DIR=${DIST_DIR:-$ROOT/dist}
cd "$ROOT"
VERSION=$("$PYTHON" -c "import workbench; print(workbench.__version__)")
NAME=AlignmentWorkbench-$VERSION-macos-$(uname -m)
START=$(date +%s)
export WORKBENCH_VERSION=$VERSION   # the spec writes it into Info.plist

"$PYTHON" packaging/make_icons.py "$BUILD_DIR/icons"
"$PYTHON" -m PyInstaller --noconfirm ${CLEAN:+--clean} --log-level WARN \
    --distpath "$DIST_DIR" --workpath "$BUILD_DIR/pyinstaller" packaging/workbench.spec
APP="$DIST_DIR/AlignmentWorkbench.app"
BUILT=$(date +%s)
codesign --verify --deep --strict --verbose=1 "$APP"

# The disk image: the app and a link to /Applications, so installing is one drag.
STAGE="$BUILD_DIR/dmg"
rm -rf "$STAGE" "$DIST_DIR/$NAME.dmg" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Alignment Workbench" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DIST_DIR/$NAME.dmg"

if [ -n "${WORKBENCH_CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$WORKBENCH_CODESIGN_IDENTITY" "$DIST_DIR/$NAME.dmg"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    # Notarisation: Apple scans the signed image (minutes), then the ticket is stapled so Gatekeeper accepts the
    # app offline. `notarytool log <id> --keychain-profile ...` shows why a submission was rejected.
    xcrun notarytool submit "$DIST_DIR/$NAME.dmg" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DIST_DIR/$NAME.dmg"
    spctl --assess --type open --context context:primary-signature --verbose "$DIST_DIR/$NAME.dmg"
fi

echo "build: $(( BUILT - START )) s, package: $(( $(date +%s) - BUILT )) s"
du -sh "$APP" "$DIST_DIR/$NAME.dmg"

if [ "${SMOKE:-1}" != "0" ]; then
    QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/workbench" --self-test
fi
