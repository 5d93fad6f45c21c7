"""``%load_ext concdoctor``: the ``%concdoctor`` line magic and the ``%%concdoctor`` cell magic.

Line: ``%concdoctor FUNC ITEMS [options]`` (or ``%concdoctor FUNC --repeat N``). FUNC and
ITEMS are expressions in the notebook's namespace (ITEMS may contain spaces: it ends at the
first ``--option``); the options are the command line's (:mod:`.arguments`).

Cell: ``%%concdoctor [FUNC [ITEMS]] [options]``. The cell runs first, in the notebook's
namespace (what it defines stays defined); FUNC defaults to the last function the cell
defines at top level, ITEMS to the value of the cell's last line when that is an
expression::

    %%concdoctor --budget 10
    def fetch(n):
        ...
    range(20)

Either returns the :class:`~concdoctor.diagnosis.Diagnosis`, which the notebook shows as
the report (``_repr_html_``). The snippet in it is written for the notebook: ITEMS by the
expression typed, and no ``if __name__ == "__main__":`` block (a notebook's ``__name__``
is always ``"__main__"``; the guard matters only to scripts that worker processes import
again, and a function of a notebook never reaches those: such pools are skipped).
"""

from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import replace
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from concdoctor.conclude.snippet import snippet
from concdoctor.diagnosis import Diagnosis
from concdoctor.errors import UsageError
from concdoctor.notebook import arguments, launch
from concdoctor.notebook.progress import CellProgress

GUARD = 'if __name__ == "__main__":'


@magics_class
class ConcdoctorMagics(Magics):
    @line_cell_magic
    def concdoctor(self, line: str, cell: str | None = None) -> Diagnosis | None:
        """Diagnose a batch of calls: ``%concdoctor FUNC ITEMS [--budget S] [--compare
        all] ...``; see ``concdoctor profile --help`` for the options."""
        from IPython.core.error import UsageError as IPythonUsageError

        try:
            return self._diagnose(line, cell)
        except UsageError as exc:  # the message, not concdoctor's traceback
            raise IPythonUsageError(str(exc)) from None

    def _diagnose(self, line: str, cell: str | None) -> Diagnosis | None:
        expressions, settings = arguments.split(line)
        repeat, quiet = settings.pop("repeat", None), settings.pop("quiet", False)
        last_def, last_value = self._run_cell(cell) if cell is not None else (None, None)
        func = self._value(expressions[0]) if expressions else last_def
        if func is None:
            raise UsageError("%concdoctor FUNC ITEMS: name the function (or define it in "
                             "the %%concdoctor cell)")
        items_text = expressions[1] if len(expressions) > 1 else None
        items = self._value(items_text) if items_text else last_value
        if (items is None) == (repeat is None):
            raise UsageError("%concdoctor: give the inputs (ITEMS, or the cell's last line) "
                             "or --repeat N, not both")
        progress = CellProgress() if not quiet else None
        command = f"{'%%' if cell is not None else '%'}concdoctor {line.strip()}"
        try:
            diagnosis = launch.diagnose(func, list(items) if items is not None else None,
                                        repeat, settings, command,
                                        progress or (lambda *_, **__: None))
        finally:
            if progress is not None:
                progress.close()
        if diagnosis.failure is not None and diagnosis.failure.detail:
            print(diagnosis.failure.detail, file=sys.stderr)  # the target's traceback
        return for_notebook(diagnosis, items_text)

    def _value(self, expression: str) -> Any:
        try:
            return self.shell.ev(expression)
        except Exception as exc:
            raise UsageError(f"%concdoctor: {expression!r} raised {type(exc).__name__}: "
                             f"{exc}") from None

    def _run_cell(self, cell: str) -> tuple[Any, Any]:
        """Run the cell as IPython runs any cell (its syntax, its tracebacks): its last
        top-level function, and the value of its last line if that is an expression."""
        tree = ast.parse(self.shell.transform_cell(cell))
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        lines = cell.splitlines()
        body = "\n".join(lines[:last.lineno - 1]) if last is not None else cell
        done = self.shell.run_cell(body, store_history=False)
        if not done.success:  # IPython has shown the cell's traceback
            raise UsageError("%%concdoctor: the cell raised; nothing was diagnosed")
        names = [node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        value = self._value("\n".join(lines[last.lineno - 1:])) if last is not None else None
        return (self.shell.user_ns[names[-1]] if names else None), value


def for_notebook(d: Diagnosis, items: str | None) -> Diagnosis:
    """The diagnosis with its snippet written for the next cell of this notebook."""
    rec = d.recommendation
    if rec is None or rec.snippet is None:
        return d
    if items is not None:  # the inputs by the expression the user typed
        d = replace(d, recommendation=replace(rec, snippet=snippet(
            replace(d, workload=replace(d.workload, inputs_json=items)))))
    return replace(d, recommendation=replace(d.recommendation, snippet=unguarded(
        d.recommendation.snippet or "")))


def unguarded(code: str) -> str:
    """``code`` without its main-module guard, the block under it dedented."""
    lines = code.split("\n")
    for index, line in enumerate(lines):
        if line.startswith(GUARD):
            head = "\n".join(lines[:index]).rstrip("\n")
            block = textwrap.dedent("\n".join(lines[index + 1:]))
            return f"{head}\n\n{block}" if head else block
    return code


def load(ipython: Any) -> None:
    ipython.register_magics(ConcdoctorMagics)
