"""The magics' options: the command line's spelling, derived from :mod:`concdoctor.options`.

Every setting that both ``concdoctor profile`` and :func:`concdoctor.api.profile` offer is
an option here, spelled as on the command line (``--budget 10``, ``--compare all``,
``--no-confirm``, ``--exact-trials``) with the settings' own help; the values go to
``api.profile`` as its keyword arguments, so :class:`~concdoctor.options.Options` checks
them with the same messages. Nothing is declared twice.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

from concdoctor.errors import UsageError
from concdoctor.options import offered

OPTION_START = re.compile(r"(?:^|\s)(?=--)")
"""Where the options begin: the first word starting with ``--``."""
MAGIC_ONLY = ("repeat", "quiet")
"""What the magics add: ``--repeat N`` (no inputs) and ``--quiet`` (no progress bar)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # a UsageError: IPython shows its message only
        raise UsageError(f"%concdoctor: {message}")


def parser() -> argparse.ArgumentParser:
    parse = _Parser(prog="%concdoctor", add_help=False, allow_abbrev=False)
    for setting in offered("cli"):
        if "api" not in setting.ways or setting.name == "compare_all":
            continue
        flag = setting.ways["cli"].split("/")[0]
        if setting.type is bool and setting.default is False:  # --keep-detached
            parse.add_argument(flag, dest=setting.name, action="store_true", default=None,
                               help=setting.help)
        elif setting.type is bool:  # --confirm/--no-confirm, --sampling/--no-sampling
            parse.add_argument(flag, dest=setting.name, action=argparse.BooleanOptionalAction,
                               default=None, help=setting.help)
        elif setting.type is tuple:  # --compare all | NAMES
            parse.add_argument(flag, dest=setting.name, default=None, help=setting.help)
        else:
            kind = {Path: Path, int: int, float: float}.get(setting.type, str)
            kind = str if setting.metavar == "SIZE" else kind  # 512M: Options parses it
            parse.add_argument(flag, dest=setting.name, type=kind, default=None,
                               metavar=setting.metavar or None, help=setting.help)
    parse.add_argument("--exact-trials", dest="adaptive", action="store_false")
    parse.add_argument("--repeat", type=int, default=None, metavar="N",
                       help="Call a function without arguments N times.")
    parse.add_argument("--quiet", action="store_true", default=None, help="No progress bar.")
    return parse


def split(line: str) -> tuple[list[str], dict[str, Any]]:
    """``FUNC [ITEMS] [--options]`` as the expressions and ``api.profile``'s settings
    (with the magic's own ``repeat`` and ``quiet``). ITEMS may contain spaces: it is all
    that comes between FUNC and the first option."""
    found = OPTION_START.search(line)
    head, tail = (line[:found.start()], line[found.start():]) if found else (line, "")
    expressions = head.strip().split(None, 1)
    try:
        words = shlex.split(tail)
    except ValueError as exc:
        raise UsageError(f"%concdoctor: {exc}") from None
    given = {name: value for name, value in vars(parser().parse_args(words)).items()
             if value is not None}
    compare = given.pop("compare", None)
    if compare is not None:
        names = [name.strip() for name in compare.split(",")]
        given["compare_all"] = "all" in names
        given["compare"] = [name for name in names if name not in ("", "all", "recommended")]
    return expressions, given
