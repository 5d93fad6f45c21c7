"""Importing concdoctor stays cheap: the terminal, template and CLI libraries load only
where they are used (pytest imports the plugin in every session)."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(statement: str) -> set[str]:
    code = (f"import sys; {statement}; "
            "print(' '.join(m for m in ('rich', 'jinja2', 'typer', 'yappi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    return set(out.stdout.split())


def test_package_and_api_import_no_ui_libraries() -> None:
    assert loaded_after("import concdoctor, concdoctor.api, concdoctor.diagnosis") == set()


def test_pytest_plugin_import_is_light() -> None:
    assert loaded_after("import concdoctor.pytest_plugin.plugin") == set()
