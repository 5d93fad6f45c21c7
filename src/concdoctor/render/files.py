"""Writing reports to disk so that an interrupted run never leaves a half-written file.

Every file goes through :func:`atomic_write_text`: the text is written to a temporary
file in the destination folder, flushed and fsynced, then renamed over the destination
with :func:`os.replace`, which is atomic on POSIX and Windows. Readers see the old file
or the new one, never a prefix, even after Ctrl-C or a crash.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from concdoctor.diagnosis import Diagnosis
from concdoctor.options import DEFAULTS
from concdoctor.render.base import get_renderer
from concdoctor.render.speedscope import has_stacks, to_speedscope

SPEEDSCOPE_FILE = "profile.speedscope.json"
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9._]+")
_FILE_MODE = 0o644


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically; on any error the old file is untouched.

    The temporary file lives beside ``path`` (a rename is only atomic within one file
    system) and is removed if anything fails, including KeyboardInterrupt. The new file
    gets mode 0644, or the mode of the file it replaces.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.stat().st_mode & 0o777 if path.exists() else _FILE_MODE
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable too; not possible (nor needed) on every platform."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe form of a target: ``pkg.mod:func`` → ``pkg.mod-func``."""
    cleaned = _SLUG_CHARS.sub("-", text).strip("-.")[:limit].strip("-.")
    return cleaned or "report"


def timestamp(created_at: str) -> str:
    """The run's own time (``created_at``) in local time; now when it is missing."""
    moment = datetime.now()
    with contextlib.suppress(ValueError):
        if created_at:
            parsed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
            moment = parsed.astimezone() if parsed.tzinfo else parsed
    return moment.strftime("%Y%m%d-%H%M%S")


def _make_run_folder(root: Path, base: str) -> Path:
    """Create a new folder ``base``, or ``base-2``, ``base-3``...: mkdir is the lock."""
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        folder = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free report folder name for {base!r} in {root}")


def render_files(diagnosis: Diagnosis, formats: Iterable[str]) -> dict[str, str]:
    """File name → text of every file of a report folder, rendered before writing."""
    files: dict[str, str] = {}
    for fmt in formats:
        renderer = get_renderer(fmt)
        files["report" + renderer.extension] = renderer.render(diagnosis)
    if has_stacks(diagnosis):
        files[SPEEDSCOPE_FILE] = to_speedscope(diagnosis)
    return files


def write_report_folder(
    diagnosis: Diagnosis,
    root: Path | str = DEFAULTS.report_dir,
    *,
    name: str | None = None,
    formats: Iterable[str] = ("json", "html", "md"),
) -> Path:
    """Write a folder of report files for one run and return its path.

    The folder is ``<root>/<YYYYmmdd-HHMMSS>-<slug of target>``, with ``-2``, ``-3``...
    appended when that name is taken, so two runs never share a folder. With ``name``
    the folder is ``<root>/<name>`` exactly (e.g. ``latest``), reused if it exists; it
    must be a single path component. Every format is rendered before anything is
    written, each file is written atomically, and when a write fails the files this
    call wrote are removed again (and the folder, if this call created it): no half
    file, and no mix of this run's files with another's.
    """
    return write_folder(render_files(diagnosis, formats), root,
                        f"{timestamp(diagnosis.created_at)}-{slug(diagnosis.target)}", name)


def write_folder(files: dict[str, str], root: Path | str, base: str,
                 name: str | None = None) -> Path:
    """Write ``files`` (name → text, all rendered already) to a new folder ``base`` (or
    ``base-2``...) of ``root``, or to ``root/name``; see :func:`write_report_folder`."""
    root = Path(root)
    if name is not None:
        if not name or Path(name).name != name or name in (".", ".."):
            raise ValueError(f"report folder name must be a plain folder name, not {name!r}")
        folder, created = root / name, not (root / name).exists()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder, created = _make_run_folder(root, base), True
    written: list[Path] = []
    try:
        for file_name, text in files.items():
            written.append(atomic_write_text(folder / file_name, text))
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return folder
