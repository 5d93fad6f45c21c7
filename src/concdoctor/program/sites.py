"""Where a program's calls are, as ``concdoctor run`` shows and chooses them: the loop
around a call site (in the program's own files only), the call as the source writes it,
a file as the report shows it, and the call site to diagnose (the top candidate that
can be, or the one ``--function`` / ``--line`` names).
"""

from __future__ import annotations

import functools
import os
import sysconfig
from dataclasses import dataclass, replace
from typing import Any

from concdoctor.cores import cpu_count
from concdoctor.errors import UsageError
from concdoctor.program import loops
from concdoctor.program.candidates import MIN_CALLS, MIN_SHARE, Candidate, candidate
from concdoctor.program.report import ProgramReport
from concdoctor.program.samples import SiteSamples
from concdoctor.target import TargetSpec


@dataclass(frozen=True)
class Pick:
    """The call site to diagnose that the user named, rather than the top candidate."""

    function: str | None = None
    """``module:qualname`` or ``path/to/file.py:qualname``."""
    line: str | None = None
    """``path/to/file.py:N``: the line of the call, or of the loop around it."""

    def check(self, diagnosing: bool) -> None:
        """Refuse a choice that cannot be made, before the program runs."""
        if (self.function or self.line) and not diagnosing:
            raise UsageError("--function and --line choose the calls to diagnose: leave out "
                             "--no-diagnose")
        if self.function and self.line:
            raise UsageError("give one of --function and --line, not both")
        if self.function:
            TargetSpec.parse(self.function, what="--function")
        if self.line:
            self.location()

    def location(self) -> tuple[str, int]:
        """``--line``'s file and line number."""
        path, _, number = (self.line or "").rpartition(":")
        if not path or not number.isdigit():
            raise UsageError(f"--line {self.line}: give it as path/to/file.py:N (the line of "
                             "the call or of its loop)")
        return path, int(number)


def choose(records: list[dict[str, Any]], report: ProgramReport, pick: Pick,
           activity: SiteSamples) -> tuple[Candidate | None, str]:
    """The call site to diagnose: the top candidate that can be, or the one ``pick``
    names (``activity``: the samples inside a call site's calls); else None and why
    (one line)."""
    if pick.function or pick.line:
        return _picked(records, report, pick, activity)
    reasons = []
    for each in report.candidates:
        why = (each.importable or
               (None if each.picklable else f"its arguments do not pickle ({each.reason})"))
        if why is None:
            return each, ""
        reasons.append(f"{each.function}: {why}")
    if reasons:
        return None, "no candidate can be diagnosed: " + "; ".join(reasons[:3])
    return None, (f"no function was called at least {MIN_CALLS} times from one call site in "
                  f"a loop for {MIN_SHARE:.0%} of the run or more; name one with --function "
                  "module:func or --line file.py:N")


def _picked(records: list[dict[str, Any]], report: ProgramReport, pick: Pick,
            activity: SiteSamples) -> tuple[Candidate | None, str]:
    sites = [(record, site) for record in records for site in record["sites"]]
    if pick.function:
        where, _, qualname = pick.function.rpartition(":")
        sites = [(record, site) for record, site in sites
                 if record["name"] == qualname and _defined_in(record["file"], where)]
        named = f"--function {pick.function}"
    else:
        path, line = pick.location()
        sites = [(record, site) for record, site in sites
                 if _same_file(site["file"], path) and line in (
                     site["line"], looped(site["file"], site["function"], site["line"]))]
        named = f"--line {pick.line}"
    if not sites:
        busiest = ", ".join(each.function for each in report.functions[:3])
        return None, (f"{named}: the program made no such call; its busiest functions were "
                      f"{busiest or 'none'}")
    record, site = max(sites, key=lambda pair: pair[1]["seconds"])
    chosen = candidate(record, site, report.wall_seconds,
                       looped(site["file"], site["function"], site["line"]),
                       activity(record, site), cpu_count(), shown)
    known = {(each.function, each.call_site): each for each in report.candidates}
    chosen = known.get((chosen.function, chosen.call_site)) or quoted(chosen)
    if chosen.importable:
        return None, f"{named}: {chosen.importable}"
    return chosen, ""


def _defined_in(path: str, where: str) -> bool:
    """Whether the file ``path`` is ``where``: a file's path, or a dotted module name."""
    if where.endswith(".py") or "/" in where:
        return _same_file(path, where)
    stem = os.path.join(*where.split("."))
    real = os.path.realpath(path)
    return real.endswith((os.sep + stem + ".py", os.sep + os.path.join(stem, "__init__.py")))


def _same_file(one: str, other: str) -> bool:
    return os.path.realpath(one) == os.path.realpath(other)


def quoted(each: Candidate) -> Candidate:
    """The candidate with its call as the source writes it."""
    text = loops.call_text(each.site_file, each.site_line, each.qualname.rpartition(".")[2])
    return replace(each, call=text) if text else each


def looped(path: str, function: str, line: int) -> int | None:
    """The loop around a call site in the program's own code; a loop inside the
    standard library or an installed package is not the user's to change."""
    return None if library(path) else loops.loop_line(path, function, line)


@functools.lru_cache(maxsize=1)
def _library_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(os.path.join(os.path.realpath(paths[key]), "")
                 for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)


def library(path: str) -> bool:
    return os.path.realpath(path).startswith(_library_folders())


def shown(path: str) -> str:
    """A file as the report shows it: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
