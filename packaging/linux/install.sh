#!/usr/bin/env sh
# Install (or with --uninstall remove) Alignment Workbench for the current user, from the unpacked .tar.gz:
#   app      -> ${XDG_DATA_HOME:-~/.local/share}/alignment-workbench/
#   launcher -> ~/.local/bin/workbench (a symlink)
#   menu     -> ${XDG_DATA_HOME}/applications/alignment-workbench.desktop (+ the icon in the hicolor theme)
# No root needed; run it from the folder it came in.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
APP_DIR=$DATA/alignment-workbench
BIN=$HOME/.local/bin/workbench
DESKTOP=$DATA/applications/alignment-workbench.desktop
ICON=$DATA/icons/hicolor/scalable/apps/alignment-workbench.svg

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$APP_DIR" "$DESKTOP" "$ICON"
    [ -L "$BIN" ] && rm -f "$BIN"
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
    echo "Alignment Workbench removed (your projects and settings were not touched)."
    exit 0
fi

rm -rf "$APP_DIR"
mkdir -p "$APP_DIR" "$(dirname "$BIN")" "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
cp -a "$HERE/AlignmentWorkbench/." "$APP_DIR/"
ln -sf "$APP_DIR/workbench" "$BIN"
cp "$HERE/alignment-workbench.svg" "$ICON"
sed "s|^Exec=.*|Exec=\"$APP_DIR/workbench\" %f|" "$HERE/alignment-workbench.desktop" > "$DESKTOP"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$DATA/applications" || true
echo "Alignment Workbench installed in $APP_DIR"
echo "Start it from the applications menu or with: $BIN   (check it with: $BIN --self-test)"
