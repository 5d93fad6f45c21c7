"""The report inside a notebook (``Diagnosis._repr_html_``): the page's body, scoped CSS.

Pure checks on the fragment (no script, no URL, every CSS rule under the output's root,
the same sections as the page), then Chromium draws it inside a stand-in notebook page:
the screenshot must show a report, and elements of the page outside the output, which
use the report's own class names, must keep the page's style.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import render_samples as samples
from test_html_screenshot import CHROMIUM, png_pixels, screenshot

from concdoctor.diagnosis import Diagnosis
from concdoctor.render import get_renderer
from concdoctor.render.inline import ROOT, scoped

SNIPPET = ("from concurrent.futures import ProcessPoolExecutor\n\n"
           "with ProcessPoolExecutor(max_workers=2) as pool:\n"
           "    results = list(pool.map(sum_of_squares, items))\n")


def with_snippet() -> Diagnosis:
    d = samples.complete()
    assert d.recommendation is not None
    return replace(d, recommendation=replace(d.recommendation, snippet=SNIPPET))


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="(\w+)"', html)


@pytest.mark.parametrize("sample", sorted(samples.ALL))
def test_inline_html_is_a_scoped_fragment(sample: str) -> None:
    html = samples.ALL[sample]()._repr_html_()
    assert html.startswith(f'<div class="{ROOT[1:]}">') and html.rstrip().endswith("</div>")
    assert "<script" not in html.lower() and not re.search(r"(https?:)?//[\w.-]+\.\w", html)
    assert "<html" not in html and "<body" not in html
    css = html[html.index("<style>") + 7:html.index("</style>")]
    for prelude in re.findall(r"([^{}]+)\{", css):
        for selector in prelude.strip().split(","):
            assert selector.strip().startswith((ROOT, "@")), selector


def test_inline_html_is_the_page_body_without_the_deep_dives() -> None:
    d = with_snippet()
    page, inline = get_renderer("html").render(d), d._repr_html_()
    assert sections(inline) == ["verdict", "shares", "executors", "scaling", "snippet", "notes"]
    assert set(sections(inline)) - {"notes"} <= set(sections(page))
    verdict = re.compile(r'<section id="verdict".*?</section>', re.S)
    assert verdict.search(inline).group() == verdict.search(page).group()  # type: ignore[union-attr]


def test_inline_html_escapes_what_the_user_controls() -> None:
    html = samples.hostile()._repr_html_()
    assert samples.HOSTILE not in html and "&lt;" in html


def test_markdown_is_the_fallback() -> None:
    text = with_snippet()._repr_markdown_()
    assert text.startswith("## concdoctor") and "sum_of_squares" in text


def test_terminal_ipython_shows_the_terminal_report() -> None:
    """Terminal IPython pretty-prints with ``_repr_pretty_``: the report, not a repr."""
    from IPython.lib.pretty import pretty

    shown = pretty(with_snippet())
    assert shown.startswith("╭─ concdoctor") and "Diagnosis(" not in shown
    assert "sum_of_squares" in shown


def test_scoped_rewrites_the_page_root_and_nested_rules() -> None:
    css = ":root { --a: 1; }\nbody, p > a { x: 1; }\n@media (max-width: 9px) { .b { y: 2; } }"
    assert scoped(css, ".r") == (".r { --a: 1; }\n.r, .r p > a { x: 1; }\n"
                                 "@media (max-width: 9px) {\n.r .b { y: 2; }\n}\n")


NOTEBOOK_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font: 14px serif; background: rgb(255, 255, 255); margin: 0; }}
.cell {{ padding: 8px 40px; }}
</style></head><body>
<div class="cell"><p class="hint" id="outside-hint">In [3]: %concdoctor sum_of_squares items</p>
<div class="card" id="outside-card">a notebook element with the report's class names</div></div>
<div class="cell output">{report}</div>
<script>
const probe = (id) => {{ const s = getComputedStyle(document.getElementById(id));
  return {{color: s.color, border: s.borderTopWidth, font: s.fontFamily}}; }};
document.body.insertAdjacentHTML("beforeend", '<pre id="probe">' + JSON.stringify(
  {{hint: probe("outside-hint"), card: probe("outside-card")}}) + "</pre>");
</script></body></html>"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_inline_report_renders_in_a_notebook_page(tmp_path: Path) -> None:
    page = tmp_path / "notebook.html"
    page.write_text(NOTEBOOK_PAGE.format(report=with_snippet()._repr_html_()), "utf-8")
    png = tmp_path / "inline.png"
    screenshot(page, png, tmp_path / "chromium-profile", height=1400)
    assert png.exists(), f"chromium wrote no screenshot of {page}"
    width, height, pixels = png_pixels(png)
    assert (width, height) == (1280, 1400)
    assert png.stat().st_size > 30_000, f"screenshot looks blank: {png}"
    assert len(set(pixels)) > 64, f"screenshot has almost no distinct pixels: {png}"
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'chromium-dom'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    outside = json.loads(found.group(1).replace("&quot;", '"'))
    for element in ("hint", "card"):  # the page's style, not the report's
        assert outside[element] == {"color": "rgb(0, 0, 0)", "border": "0px",
                                    "font": "serif"}, outside
