#!/usr/bin/env python3
"""Redraw both favicon.ico files from their SVGs (after changing an SVG): each SVG is rendered at 16×16
and 32×32 in Debian's Chromium and packed as an .ico of PNG entries (read by every current browser).
Run from the checkout: .venv/bin/python scripts/render_favicons.py"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

ICONS = [
    (Path("src/kaitong/static/kaitong/favicon.svg"), Path("src/kaitong/static/kaitong/favicon.ico")),
    (Path("src/kaitong_sim/static/simulator/favicon.svg"), Path("src/kaitong_sim/static/simulator/favicon.ico")),
]
SIZES = (16, 32)


def ico(pngs: list[tuple[int, bytes]]) -> bytes:
    header = struct.pack("<HHH", 0, 1, len(pngs))  # reserved, type 1 (icon), count
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, png in pngs:
        entries += struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), offset + len(images))
        images += png
    return header + entries + images


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for svg, target in ICONS:
            data = base64.b64encode(svg.read_bytes()).decode()
            pngs = []
            for size in SIZES:
                page = browser.new_page(viewport={"width": size, "height": size})
                page.set_content(
                    f'<body style="margin:0"><img src="data:image/svg+xml;base64,{data}"'
                    f' width="{size}" height="{size}" style="display:block"></body>'
                )
                pngs.append((size, page.screenshot(omit_background=True)))
                page.close()
            target.write_bytes(ico(pngs))
            print(target, target.stat().st_size, "bytes")
        browser.close()


if __name__ == "__main__":
    main()
