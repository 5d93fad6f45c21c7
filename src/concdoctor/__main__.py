from __future__ import annotations

from concdoctor.cli import console

console()
