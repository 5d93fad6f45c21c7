"""``%load_ext concdoctor`` in a real Jupyter kernel (ipykernel, driven by nbclient).

The notebook defines its function in a cell (it lives in the kernel's ``__main__``), runs
``%concdoctor``, and the report appears as the cell's ``text/html``; the snippet from that
report, pasted into the next cell, returns the sequential results; a target that raises
shows its own traceback; an interrupt mid-diagnosis leaves no process behind and the
kernel answers the next cell. Timings are wide: the machine is small and shared.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from concdoctor import descendants

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.e2e
TIMEOUT = 600

DEFINE = """\
import time

def slow_square(n):
    time.sleep(0.05)
    return n * n

items = list(range(16))
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Any]:
    """A started kernel in a scratch folder (reports and state stay out of the repo)."""
    notebook = nbformat.v4.new_notebook()
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        yield client


def run(client: Any, source: str) -> Any:
    """Execute one cell in the kernel; the cell, with its outputs."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)
    return client.execute_cell(cell, len(client.nb.cells) - 1)


def html_of(cell: Any) -> str:
    htmls = [o["data"]["text/html"] for o in cell.outputs
             if o["output_type"] == "execute_result" and "text/html" in o.get("data", {})]
    assert htmls, f"no text/html result: {cell.outputs}"
    return htmls[-1]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_magic_shows_the_report_and_its_snippet_runs(kernel: Any) -> None:
    run(kernel, DEFINE)
    run(kernel, "%load_ext concdoctor")
    cell = run(kernel, "diagnosis = %concdoctor slow_square items --budget 60\ndiagnosis")
    html = html_of(cell)
    assert html.startswith('<div class="concdoctor-report">') and "<script" not in html
    verdict = text_of(html[html.index('id="verdict"'):html.index("</section>")])
    assert re.search(r"Recommendation (thread|asyncio|process|loky|hybrid)", verdict), verdict
    assert re.search(r"Measured speedup \d+(\.\d+)?×", verdict), verdict
    snippet = run(kernel, "print(diagnosis.recommendation.snippet)").outputs[0]["text"]
    assert "__main__" not in snippet and "items" in snippet
    run(kernel, snippet)
    check = run(kernel, "results == [slow_square(n) for n in items]")
    assert check.outputs[-1]["data"]["text/plain"] == "True"


def test_cell_magic_defines_and_diagnoses(kernel: Any) -> None:
    run(kernel, "%load_ext concdoctor")
    cell = run(kernel, "%%concdoctor --budget 60 --no-confirm\n"
                       "import time\ndef nap(n):\n    time.sleep(0.02)\n    return n\nrange(8)")
    assert "Bottleneck" in text_of(html_of(cell))
    assert run(kernel, "nap(3)").outputs[-1]["data"]["text/plain"] == "3"


def test_a_function_that_raises_shows_its_own_traceback(kernel: Any) -> None:
    run(kernel, "def broken(n):\n    raise ValueError(f'bad item {n}')\n")
    run(kernel, "%load_ext concdoctor")
    cell = run(kernel, "%concdoctor broken [1, 2] --no-confirm")
    errors = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
    assert "ValueError: bad item" in errors and "in broken" in errors
    assert "concdoctor/" not in errors, errors
    assert "Partial report" in text_of(html_of(cell))


def test_interrupt_ends_the_child_tree_and_keeps_the_kernel(tmp_path: Path) -> None:
    """The stop button: SIGINT to the kernel while it waits for the diagnosis."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        for source in (DEFINE.replace("0.05", "2.0"), "%load_ext concdoctor"):
            assert client.execute_interactive(source, timeout=TIMEOUT)["content"][
                "status"] == "ok"
        message = client.execute("%concdoctor slow_square items --budget 600")
        kernel_pid = manager.provisioner.process.pid
        seen = wait_for_tree(kernel_pid)
        commands = [descendants.command(proc.pid) for proc in seen]
        assert any("concdoctor.notebook.helper" in each for each in commands), commands
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != message:
            reply = client.get_shell_msg(timeout=120)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(map(descendants.gone, seen)):
            time.sleep(0.2)
        left = [proc.pid for proc in seen if not descendants.gone(proc)]
        assert not left, f"processes left behind: {[descendants.command(p) for p in left]}"
        assert not descendants.tree(kernel_pid)
        results: list[str] = []
        client.execute_interactive("6 * 7", timeout=TIMEOUT, output_hook=lambda msg: (
            results.append(msg["content"].get("data", {}).get("text/plain", ""))))
        assert "42" in results
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def wait_for_tree(kernel_pid: int) -> list[descendants.Proc]:
    """The kernel's descendants once the helper has forked the child (which runs the
    batch in a session of its own): at least two processes under the kernel."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = descendants.tree(kernel_pid)
        if len(found) >= 2:
            time.sleep(1.0)  # into the baseline, where the tasks run
            return descendants.tree(kernel_pid)
        time.sleep(0.1)
    raise AssertionError("the diagnosis never started its child process")
