"""Collects one row per diagnosis during the session and prints the summary table.

Rows are plain data (:class:`Record`, serialisable with :meth:`Record.to_dict`) so that
pytest-xdist workers can send theirs to the controller through ``config.workeroutput``;
the controller merges them and prints one table for the whole run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from concdoctor.cores import cpu_count
from concdoctor.options import DEFAULTS, Options

if TYPE_CHECKING:
    from concdoctor.diagnosis import Diagnosis

WORKEROUTPUT_KEY = "concdoctor"


class Writer(Protocol):
    """The part of pytest's terminal reporter that the summary uses."""

    def write_sep(self, sep: str, title: str | None = None, **markup: bool) -> None: ...

    def write_line(self, line: str, **markup: bool) -> None: ...


@dataclass(frozen=True)
class Record:
    """One diagnosis, as the summary shows it."""

    nodeid: str
    target: str
    kind: str | None
    executor: str | None
    workers: int | None
    speedup: float | None
    confirmed: bool
    confirm_ran: bool
    failure: str | None = None
    worker: str | None = None
    report: str | None = None

    @classmethod
    def of(cls, diagnosis: Diagnosis, nodeid: str, worker: str | None = None,
           report: Path | None = None) -> Record:
        failure = diagnosis.failure
        return cls(
            nodeid=nodeid, target=diagnosis.target, kind=diagnosis.kind,
            executor=diagnosis.executor, workers=diagnosis.workers, speedup=diagnosis.speedup,
            confirmed=diagnosis.confirmed, confirm_ran=diagnosis.confirmation is not None,
            failure=f"{failure.phase}: {failure.message}" if failure else None,
            worker=worker, report=str(report) if report else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @property
    def status(self) -> str:
        if self.failure:
            return "failed"
        if not self.confirm_ran:
            return "off"
        return "yes" if self.confirmed else "no"


@dataclass(frozen=True)
class Settings:
    """The ``--concdoctor-*`` command-line options: the options every diagnosis starts
    from, and the folder to write reports in (None: none are written)."""

    options: Options = DEFAULTS
    report_dir: Path | None = None


@dataclass
class ConcdoctorSession:
    """The run's settings and every diagnosis (on the controller, the workers' too)."""

    settings: Settings = field(default_factory=Settings)
    records: list[Record] = field(default_factory=list)
    workers_seen: set[str] = field(default_factory=set)

    def add(self, record: Record) -> None:
        self.records.append(record)

    def merge(self, rows: Iterable[Mapping[str, Any]], worker: str) -> None:
        """Rows sent by an xdist worker at the end of its session."""
        self.workers_seen.add(worker)
        for row in rows:
            self.records.append(Record.from_dict({**row, "worker": row.get("worker") or worker}))

    def export(self) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self.records]

    # -- the summary ------------------------------------------------------------------------
    def table(self) -> list[str]:
        """The summary table, sorted by test (a test's diagnoses keep their order)."""
        parallel = any(record.worker for record in self.records)
        header = ["test", "target", "kind", "executor", "workers", "speedup", "confirmed"]
        if parallel:
            header.append("xdist")
        rows = [header]
        for record in sorted(self.records, key=lambda r: r.nodeid):
            row = [record.nodeid, record.target, record.kind or "-", record.executor or "-",
                   "-" if record.workers is None else str(record.workers),
                   "-" if record.speedup is None else f"{record.speedup:.2f}x", record.status]
            if parallel:
                row.append(record.worker or "-")
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        numeric = {header.index("workers"), header.index("speedup")}
        lines = []
        for row in rows:
            cells = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                     for i, cell in enumerate(row)]
            lines.append("  ".join(cells).rstrip())
        lines.insert(1, "-" * len(lines[0]))
        return lines

    def footnotes(self) -> list[str]:
        notes = [f"failed: {r.nodeid} ({r.target}): {r.failure}"
                 for r in self.records if r.failure]
        if any(r.status == "off" for r in self.records):
            notes.append("confirmed 'off': confirmation did not run (--concdoctor-no-confirm "
                         "or confirm=False), so no speedup was measured; under "
                         "--concdoctor-no-confirm the marker's min_speedup and confirmed "
                         "are not checked")
        workers = {r.worker for r in self.records if r.worker} | self.workers_seen
        if len(workers) > 1:
            notes.append(
                f"tests ran on {len(workers)} pytest-xdist workers sharing {cpu_count()} CPUs: "
                "diagnoses that overlapped other tests competed for the cores, so measured "
                "speedups (and CPU-bound verdicts) can be lower than in a run without -n")
        reports = [r.report for r in self.records if r.report]
        if reports and self.settings.report_dir is not None:
            notes.append(f"reports: {len(reports)} folders in {self.settings.report_dir}")
        return notes

    def display(self, writer: Writer, verbose: bool = False) -> None:
        """The table and its notes; nothing at all when no test made a diagnosis.
        ``verbose`` (pytest -v) also lists each report folder."""
        if not self.records:
            return
        count = len(self.records)
        writer.write_sep("-", f"concdoctor: {count} diagnos{'is' if count == 1 else 'es'}")
        for line in self.table():
            writer.write_line(line)
        for note in self.footnotes():
            writer.write_line(note)
        if verbose:
            for record in sorted(self.records, key=lambda r: r.nodeid):
                if record.report:
                    writer.write_line(f"report: {record.nodeid}: {record.report}")
