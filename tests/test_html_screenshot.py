"""The HTML report opened in a real headless browser with no network, as a reader would.

Chromium draws the page from the file alone; the screenshot proves it renders (not a
blank page, not an error page) without fetching anything. Whether it *looks* right is
checked by eye: the PNG is left in pytest's tmp_path (printed on failure).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import render_samples as samples

from concdoctor.render import get_renderer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)


def screenshot(html_file: Path, png: Path, profile: Path, height: int = 900) -> None:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        f"--screenshot={png}", f"--window-size=1280,{height}", html_file.as_uri(),
    ]
    try:
        subprocess.run(command, capture_output=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_pixels(png: Path) -> tuple[int, int, bytes]:
    """Width, height and the filtered scanlines of a PNG: enough to tell blank from drawn."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.mark.parametrize("sample", ["complete", "partial", "hostile"])
def test_report_renders_in_a_browser(tmp_path: Path, sample: str) -> None:
    html_file = tmp_path / "report.html"
    html_file.write_text(get_renderer("html").render(samples.ALL[sample]()), encoding="utf-8")
    png = tmp_path / "report.png"
    screenshot(html_file, png, tmp_path / "chromium-profile")
    assert png.exists(), f"chromium wrote no screenshot of {html_file}"
    width, height, pixels = png_pixels(png)
    assert (width, height) == (1280, 900)
    # A blank 1280x900 page compresses to about 3 KB; text, cards and charts to 60+ KB.
    assert png.stat().st_size > 30_000, f"screenshot looks blank: {png}"
    assert len(set(pixels)) > 64, f"screenshot has almost no distinct pixels: {png}"
