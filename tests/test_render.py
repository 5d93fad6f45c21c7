"""Renderers on hand-built diagnoses: content, escaping, well-formedness, atomic files."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import render_samples as samples

from concdoctor.diagnosis import Diagnosis, StackSamples
from concdoctor.render import (
    RENDERERS,
    atomic_write_text,
    files,
    flame,
    get_renderer,
    write_report_folder,
)
from concdoctor.render import wording as view
from concdoctor.render.html_report import embed_json
from concdoctor.render.markdown_report import md
from concdoctor.render.speedscope import SCHEMA, parse_frame, to_speedscope
from concdoctor.render.terminal import TerminalRenderer

SRC = Path(__file__).resolve().parents[1] / "src"
SAMPLES = sorted(samples.ALL)


# -- registry -------------------------------------------------------------------------------
def test_every_format_is_registered() -> None:
    assert set(RENDERERS) == {"terminal", "json", "markdown", "html"}
    assert {cls.extension for cls in RENDERERS.values()} == {".txt", ".json", ".md", ".html"}


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("html", "html"), ("HTML", "html"), ("md", "markdown"), ("markdown", "markdown"),
        ("json", "json"), ("terminal", "terminal"), ("term", "terminal"),
        ("report.html", "html"), (".md", "markdown"), ("out/dir/r.JSON", "json"),
        ("report.txt", "terminal"), ("./reports/x.y.md", "markdown"),
    ],
)
def test_get_renderer_by_name_extension_or_path(spec: str, name: str) -> None:
    assert get_renderer(spec).name == name


@pytest.mark.parametrize("spec", ["pdf", "report.pdf", "", ".", "htmlx"])
def test_unknown_format_lists_choices_on_one_line(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        get_renderer(spec)
    message = str(info.value)
    assert "\n" not in message
    for choice in ("html", "json", "markdown", "terminal", ".md"):
        assert choice in message


def test_import_is_lazy_about_rich_and_jinja2() -> None:
    code = (
        "import sys, concdoctor.render\n"
        "from concdoctor.render import get_renderer\n"
        "get_renderer('report.html')\n"
        "loaded = [m for m in ('rich', 'jinja2', 'markupsafe') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- every renderer, every sample -------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RENDERERS))
@pytest.mark.parametrize("sample", SAMPLES)
def test_every_renderer_renders_every_sample(name: str, sample: str) -> None:
    out = samples.render(get_renderer(name), samples.ALL[sample]())
    assert isinstance(out, str) and out.strip()


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_verdict_content(name: str) -> None:
    out = samples.render(get_renderer(name), samples.complete())
    for text in ("python_cpu_bound", "process", "cpu-python-processes", "1.85",
                 "a task takes 300 ms", "thread measured 0.97x", "needs Python 3.14"):
        assert text in out, text


@pytest.mark.parametrize("name", ["terminal", "markdown", "html"])
def test_verdict_comes_first(name: str) -> None:
    out = samples.render(get_renderer(name), samples.complete())
    verdict = out.index("cpu-python-processes")
    for later in ("Executors measured", "GIL held", "forkserver", "sum_of_squares (examples"):
        if later in out:
            assert out.index(later) > verdict, later


@pytest.mark.parametrize("name", ["terminal", "markdown", "html"])
def test_confirmation_state_is_worded(name: str) -> None:
    out = samples.render(get_renderer(name), samples.not_confirmed())
    assert "not confirmed" in out
    assert "2.00×" in out  # the bar it had to clear
    assert "chunksize 4" in out


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_partial_report_shows_failure(name: str) -> None:
    out = samples.render(get_renderer(name), samples.partial())
    assert "baseline" in out
    assert "did not finish within 60 s" in out


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_degraded_evidence_says_why(name: str) -> None:
    out = samples.render(get_renderer(name), samples.degraded())
    assert "Permission Denied (ptrace)" in out


def test_terminal_does_not_parse_markup_and_has_no_colour_by_default() -> None:
    out = TerminalRenderer().render(samples.hostile(), width=240)
    assert samples.MARKUP in out
    assert "\x1b[" not in out
    coloured = TerminalRenderer().render(samples.complete(), color=True)
    assert "\x1b[" in coloured


def test_terminal_prints_to_a_live_console() -> None:
    from rich.console import Console

    console = Console(record=True, width=120, file=io.StringIO())
    TerminalRenderer().print(samples.complete(), console)
    assert "cpu-python-processes" in console.export_text()


# -- JSON ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_json_round_trips(sample: str) -> None:
    d = samples.ALL[sample]()
    assert Diagnosis.from_json(get_renderer("json").render(d)) == d


# -- Markdown -----------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_markdown_tables_are_well_formed(sample: str) -> None:
    out = get_renderer("md").render(samples.ALL[sample]())
    found = samples.tables(out)
    assert found
    for block in found:
        header = samples.unescaped_pipes(block[0])
        assert re.fullmatch(r"\|( :?-+:? \|)+", block[1]), block[1]
        for line in block:
            assert line.endswith("|") and not line.endswith("\\|"), line
            assert samples.unescaped_pipes(line) == header, line


def test_markdown_escapes_hostile_text() -> None:
    out = get_renderer("md").render(samples.hostile())
    assert samples.HOSTILE not in out
    assert "<script" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "a\\|b" in out
    for line in out.splitlines():
        if line.startswith("|"):
            assert not re.search(r"(?<!\\)`", line), line
    # the traceback cannot close its <pre> block early
    assert out.count("</pre>") == out.count("<pre>")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a\\|b"), ("<b>&", "&lt;b&gt;&amp;"), ("__init__", "\\_\\_init\\_\\_"),
        ("sum_of_squares", "sum_of_squares"), ("_x a_ b_c_", "\\_x a\\_ b_c\\_"),
        ("`x`", "\\`x\\`"), ("one\ntwo\r\nthree", "one two three"), ("C:\\", "C:\\\\"),
    ],
)
def test_md_escape(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


# -- HTML ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_html_is_self_contained(sample: str) -> None:
    html = get_renderer("html").render(samples.ALL[sample]())
    parser = samples.Resources()
    parser.feed(html)
    assert not parser.tags & {"link", "img", "iframe", "object", "embed", "audio", "video"}
    assert all(not re.match(r"\s*(https?:|//|ftp:)", url, re.IGNORECASE) for url in parser.urls)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html  # the browser refuses any fetch or script anyway
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script type="application/json" id="concdoctor-data">']


def test_html_mentions_no_url_outside_the_data() -> None:
    """A report with no URLs in its data has none in its markup either."""
    html = get_renderer("html").render(samples.complete())
    assert "://" not in html.replace(samples.data_block(html), "")


def test_html_escapes_hostile_text() -> None:
    html = get_renderer("html").render(samples.hostile())
    assert samples.HOSTILE not in html
    assert "<script>" not in html
    assert html.count("</script>") == 1
    assert html.count("</pre>") == html.count("<pre")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("sample", SAMPLES)
def test_html_embeds_the_json_report_safely(sample: str) -> None:
    d = samples.ALL[sample]()
    html = get_renderer("html").render(d)
    block = samples.data_block(html)
    assert not set(block) & {"<", ">", "&"}
    assert Diagnosis.from_dict(json.loads(block)) == d


def test_embed_json_escapes_script_breakers() -> None:
    text = json.dumps({"name": "</script><!-- & -->"})
    embedded = str(embed_json(text))
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(embedded) == {"name": "</script><!-- & -->"}


def test_html_has_every_section() -> None:
    html = get_renderer("html").render(samples.complete())
    for anchor in ("verdict", "shares", "executors", "flame", "functions", "environment"):
        assert f'id="{anchor}"' in html, anchor
    assert html.index('id="verdict"') < html.index('id="shares"')
    assert "<svg" in html and "<title>" in html
    assert "builtin" in html and "free-threaded" in html.lower()
    assert "concdoctor profile examples.cpu_bound:sum_of_squares --repeat 8" in html


def test_html_partial_and_degraded() -> None:
    partial = get_renderer("html").render(samples.partial())
    assert 'id="failure"' in partial and "Partial report" in partial
    assert 'id="flame"' not in partial
    degraded = get_renderer("html").render(samples.degraded())
    assert 'id="flame"' not in degraded
    assert "py-spy did not sample" in degraded


# -- pictures and wording -----------------------------------------------------------------
def test_flame_layout_nests_children_inside_parents() -> None:
    graph = flame.layout(samples.stacks())
    assert graph is not None
    root = graph.rects[0]
    assert root.width == pytest.approx(flame.WIDTH) and graph.total == 277
    by_name = {r.name: r for r in graph.rects}
    runner = by_name["run_task (concdoctor/child.py:120)"]
    target = by_name["sum_of_squares (examples/cpu_bound.py:8)"]
    assert target.y == runner.y + flame.ROW
    assert runner.x <= target.x and target.x + target.width <= runner.x + runner.width + 0.01
    assert target.state == "gil"
    assert by_name["hash_block (examples/mixed.py:21)"].state == "released"
    assert by_name["sleep (<built-in>)"].state == "idle"
    assert "222 samples (80% of all)" in target.title and "GIL held" in target.title


def test_flame_layout_of_nothing_is_none() -> None:
    assert flame.layout(()) is None
    assert flame.layout((StackSamples(("a",)),)) is None


def test_fit_label() -> None:
    assert flame.fit_label("short", 500) == "short"
    assert flame.fit_label("a_rather_long_function_name", 80).endswith("…")
    assert flame.fit_label("anything", 10) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.4, "2.40 s"), (0.3, "300 ms"), (0.00012, "120 µs"), (250.0, "250 s"), (None, "–")],
)
def test_seconds(value: float | None, text: str) -> None:
    assert view.seconds(value) == text


def test_executor_rows_explain_the_losers() -> None:
    rows = {r.executor: r for r in view.executor_rows(samples.complete())}
    assert rows["process"].recommended
    assert rows["sequential"].baseline and rows["sequential"].verdict.startswith("baseline")
    assert rows["thread"].verdict == "1.90× slower than process"
    assert rows["interpreter"].verdict == "skipped: needs Python 3.14"


def test_executor_rows_from_the_contract_dict_alone() -> None:
    rows = view.executor_rows(samples.not_confirmed())
    assert [r.executor for r in rows] == ["sequential", "thread"]
    assert rows[1].recommended and rows[1].speedup == pytest.approx(2.0 / 1.9)


# -- speedscope ---------------------------------------------------------------------------
def test_speedscope_file_is_valid() -> None:
    doc = json.loads(to_speedscope(samples.complete()))
    assert doc["$schema"] == SCHEMA
    frames = doc["shared"]["frames"]
    assert {"name": "sum_of_squares", "file": "examples/cpu_bound.py", "line": 8} in frames
    names = [p["name"].split(": ")[-1] for p in doc["profiles"]]
    assert names == ["all samples", "idle (waiting)", "GIL held", "GIL released"]
    for profile in doc["profiles"]:
        assert profile["type"] == "sampled" and profile["unit"] == "none"
        assert len(profile["samples"]) == len(profile["weights"])
        assert profile["endValue"] == sum(profile["weights"])
        assert all(0 <= i < len(frames) for stack in profile["samples"] for i in stack)
    assert doc["profiles"][0]["endValue"] == 277
    first = doc["profiles"][0]["samples"][0]
    assert frames[first[0]]["name"] == "run_task"  # root first


def test_speedscope_without_stacks_is_an_error() -> None:
    with pytest.raises(ValueError, match="no sampled stacks"):
        to_speedscope(samples.degraded())


def test_parse_frame() -> None:
    assert parse_frame("f (a.py:3)") == {"name": "f", "file": "a.py", "line": 3}
    assert parse_frame("<module> (x/y.py)") == {"name": "<module>", "file": "x/y.py"}
    assert parse_frame("no location") == {"name": "no location"}


# -- files ----------------------------------------------------------------------------------
FOLDER = re.compile(r"\d{8}-\d{6}-examples\.cpu_bound-sum_of_squares(-\d+)?")


def test_write_report_folder(tmp_path: Path) -> None:
    d = samples.complete()
    folder = write_report_folder(d, tmp_path / ".concdoctor")
    assert folder.parent == tmp_path / ".concdoctor"
    assert FOLDER.fullmatch(folder.name)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["profile.speedscope.json", "report.html", "report.json", "report.md"]
    assert Diagnosis.from_json((folder / "report.json").read_text()) == d
    assert (folder / "report.html").read_text().rstrip().endswith("</html>")
    assert (folder / "report.md").read_text() == get_renderer("md").render(d)
    json.loads((folder / "profile.speedscope.json").read_text())


def test_report_folders_are_unique_within_a_second(tmp_path: Path) -> None:
    d = samples.complete()  # fixed created_at: every folder wants the same name
    folders = [write_report_folder(d, tmp_path, formats=("json",)) for _ in range(3)]
    assert len({f.name for f in folders}) == 3
    assert all(FOLDER.fullmatch(f.name) for f in folders)


def test_no_speedscope_without_stacks(tmp_path: Path) -> None:
    folder = write_report_folder(samples.degraded(), tmp_path)
    assert not (folder / files.SPEEDSCOPE_FILE).exists()
    assert (folder / "report.html").exists()


def test_named_folder(tmp_path: Path) -> None:
    first = write_report_folder(samples.complete(), tmp_path, name="latest")
    again = write_report_folder(samples.partial(), tmp_path, name="latest")
    assert first == again == tmp_path / "latest"
    assert "forever" in (again / "report.json").read_text()
    for bad in ("../escape", "a/b", "..", ""):
        with pytest.raises(ValueError):
            write_report_folder(samples.complete(), tmp_path, name=bad)


def test_hostile_target_makes_a_safe_folder_name(tmp_path: Path) -> None:
    folder = write_report_folder(samples.hostile(), tmp_path, formats=("md",))
    assert folder.parent == tmp_path
    assert re.fullmatch(r"[A-Za-z0-9._-]+", folder.name)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.atomic_write_text
    calls: list[Path] = []

    def flaky(path: Path | str, text: str, **kwargs: str) -> Path:
        calls.append(Path(path))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, text, **kwargs)

    monkeypatch.setattr(files, "atomic_write_text", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_report_folder(samples.complete(), tmp_path)
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []


def test_render_error_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_report_folder(samples.complete(), tmp_path / "r", formats=("json", "pdf"))
    assert not (tmp_path / "r").exists()


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    atomic_write_text(target, "old\n")
    target.chmod(0o600)
    atomic_write_text(target, "new\r\nline\n")
    assert target.read_bytes() == b"new\r\nline\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_atomic_write_interrupted_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.md"
    atomic_write_text(target, "complete old report\n")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new report that never lands\n")
    assert target.read_text() == "complete old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


@pytest.mark.parametrize(
    ("target", "slug"),
    [
        ("examples.cpu_bound:sum_of_squares", "examples.cpu_bound-sum_of_squares"),
        ("path/to/file.py:func", "path-to-file.py-func"),
        ("../..:x", "x"),
        ("", "report"),
    ],
)
def test_slug(target: str, slug: str) -> None:
    assert files.slug(target) == slug



@pytest.mark.parametrize("name", ["terminal", "markdown", "html", "json"])
def test_every_report_ends_with_the_code_to_apply_it(name: str) -> None:
    d = samples.unsafe()
    out = samples.render(get_renderer(name), d)
    code_line = "results = list(pool.map(remember, range(16)))"
    assert code_line in (out if name != "json" else json.loads(out)["recommendation"]["snippet"])
    if name != "json":
        assert out.index("Apply it") > out.index("Executors measured")


@pytest.mark.parametrize("name", ["terminal", "markdown", "html"])
def test_an_executor_that_changed_the_results_is_marked_unsafe(name: str) -> None:
    out = samples.render(get_renderer(name), samples.unsafe())
    assert "unsafe: changed the results of 15 tasks" in out
    assert "sequential gave 0, thread gave 30" in out


def test_the_html_snippet_is_one_selectable_block() -> None:
    html = get_renderer("html").render(samples.unsafe())
    assert '<pre class="snippet"><code>' in html and "user-select: all" in html


def test_a_snippet_keeps_its_backticks_inside_a_longer_fence() -> None:
    d = samples.unsafe()
    code = "x = 1  # ```not a fence```\n"
    out = get_renderer("md").render(replace(d, recommendation=replace(
        d.recommendation, snippet=code)))
    block = out.split("````python\n", 1)[1].split("\n````", 1)[0]
    assert block == code.rstrip()


@pytest.mark.parametrize("name", ["terminal", "markdown", "html"])
def test_an_executor_this_python_cannot_run_is_a_line_not_a_row(name: str) -> None:
    from concdoctor.decide import capacity
    from concdoctor.diagnosis import Evidence

    d = samples.complete()
    d = replace(d, environment=replace(d.environment, unavailable={
        "interpreter": "InterpreterPoolExecutor needs Python 3.14 (this is 3.11)"}))
    assert not any(r.executor == "interpreter" for r in view.executor_rows(d))
    text = samples.render(get_renderer(name), d)
    flat = " ".join(text.split())
    assert "Not on this Python" in flat
    assert "interpreter: InterpreterPoolExecutor needs Python 3.14" in flat
    assert "interpreter × 2" not in text and "interpreter x2" not in text
    # and no curve: the scaling model leaves it out
    ev = Evidence(1.0, 1.0, 1.0, 0.1, idle_fraction=0.0, gil_fraction=1.0,
                  released_fraction=0.0)
    assert "interpreter" not in capacity.curves(replace(d, evidence=ev, confirmation=None))
    assert d.to_dict()["confirmation"]["results"]  # JSON keeps every result, skips too
