"""Render studio/resources/icons/studio.svg into the PNG sizes the desktop needs.

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py

Writes studio/resources/icons/studio-<size>.png for every size in
studio.resources.ICON_SIZES (16 to 512 pixels) with Qt's own SVG renderer, so no other
tool is needed. From those PNGs it also writes packaging/windows/studio.ico and
packaging/macos/studio.icns (both formats simply hold PNGs). Everything it writes is
committed, so building the app needs no image tool.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "studio" / "resources" / "icons"


def render(svg: Path, out_dir: Path, sizes: tuple[int, ...]) -> list[Path]:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out_dir / f"studio-{size}.png"
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"could not write {target}")
        written.append(target)
    return written


# Windows takes up to 256 px in an .ico; .icns names each PNG size by a type code.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}


def write_ico(pngs: dict[int, bytes], target: Path) -> None:
    """An ICO file whose images are PNGs (accepted since Windows Vista)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
        blobs += data
    target.write_bytes(header + entries + blobs)


def write_icns(pngs: dict[int, bytes], target: Path) -> None:
    """An Apple icon file: 'icns', total length, then (type, length, PNG) blocks."""
    body = b""
    for size, kind in ICNS_TYPES.items():
        if size in pngs:
            body += kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    target.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from studio.resources import ICON_SIZES

    written = render(ICONS / "studio.svg", ICONS, ICON_SIZES)
    pngs = {size: path.read_bytes() for size, path in zip(ICON_SIZES, written, strict=True)}
    here = Path(__file__).resolve().parent
    write_ico(pngs, here / "windows" / "studio.ico")
    write_icns(pngs, here / "macos" / "studio.icns")
    for path in [*written, here / "windows" / "studio.ico", here / "macos" / "studio.icns"]:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
