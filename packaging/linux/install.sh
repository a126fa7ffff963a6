#!/bin/sh
# Install the desktop integration of a built Studio for the current user:
#     packaging/linux/install.sh [BUNDLE_DIR]     (default: dist/studio from `make package`)
# Puts `studio` on ~/.local/bin (a link into the bundle), the .desktop file, the icon in
# the hicolor theme, the AppStream metainfo and the application/x-realm MIME type, so
# that the Studio appears in the application menu and double-clicking a .realm opens it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=${1:-$root/dist/studio}
data=${XDG_DATA_HOME:-$HOME/.local/share}
[ -x "$bundle/studio" ] || { echo "no $bundle/studio: run 'make package' first" >&2; exit 2; }
mkdir -p "$HOME/.local/bin" "$data/applications" "$data/metainfo" "$data/mime/packages"
ln -sf "$(cd "$bundle" && pwd)/studio" "$HOME/.local/bin/studio"
cp "$here/studio.desktop" "$data/applications/studio.desktop"
cp "$here/io.studio.Studio.metainfo.xml" "$data/metainfo/"
cp "$here/studio-realm.xml" "$data/mime/packages/studio-realm.xml"
for size in 16 24 32 48 64 128 256 512; do
    dir="$data/icons/hicolor/${size}x${size}/apps"
    mkdir -p "$dir"
    cp "$root/studio/resources/icons/studio-$size.png" "$dir/io.studio.Studio.png"
done
mkdir -p "$data/icons/hicolor/scalable/apps"
cp "$root/studio/resources/icons/studio.svg" "$data/icons/hicolor/scalable/apps/io.studio.Studio.svg"
command -v update-mime-database >/dev/null && update-mime-database "$data/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
command -v xdg-mime >/dev/null && xdg-mime default studio.desktop application/x-realm || true
echo "installed: $HOME/.local/bin/studio, studio.desktop, the icon and application/x-realm"
