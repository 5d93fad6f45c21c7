"""The one interface every report renderer shares, and the registry that finds them.

A renderer turns a :class:`~concdoctor.diagnosis.Diagnosis` into the text of one file
(or one terminal screen). The CLI picks a renderer by name (``--format html``) or by the
file name the user asked for (``--report out.md``), so both spellings resolve here.
Renderer modules must not import rich or jinja2 at import time: the registry imports
every renderer, and ``import concdoctor.render`` has to stay cheap.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar, TypeVar

if TYPE_CHECKING:
    from concdoctor.diagnosis import Diagnosis

RENDERERS: dict[str, type[Renderer]] = {}
"""Every registered renderer class, by its canonical name, in registration order."""

_R = TypeVar("_R", bound="Renderer")


class Renderer:
    """Base class: a canonical ``name``, the file ``extension`` and ``render``."""

    name: ClassVar[str] = ""
    extension: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    def render(self, diagnosis: Diagnosis) -> str:
        """Return the whole report as text; never writes anything itself."""
        raise NotImplementedError


def register(cls: type[_R]) -> type[_R]:
    """Class decorator adding a renderer to :data:`RENDERERS` under its ``name``."""
    RENDERERS[cls.name] = cls
    return cls


def _keys(cls: type[Renderer]) -> set[str]:
    ext = cls.extension.lower()
    return {cls.name, *cls.aliases, ext, ext.lstrip(".")}


def _choices() -> str:
    names = ", ".join(
        f"{cls.name} ({'/'.join(cls.aliases)})" if cls.aliases else cls.name
        for cls in RENDERERS.values()
    )
    exts = ", ".join(cls.extension for cls in RENDERERS.values())
    return f"{names}, or a file name ending in {exts}"


def get_renderer(name_or_extension: str) -> Renderer:
    """A new renderer for a format name, an extension (``.md``) or a path (``out.html``).

    Raises :class:`ValueError` with a one-line message listing the valid choices, which
    the CLI shows as is.
    """
    key = name_or_extension.strip().lower()
    candidates = [key]
    if "." in key:
        suffix = key if key.startswith(".") and key.count(".") == 1 else PurePath(key).suffix
        candidates.append(suffix)
    for candidate in candidates:
        for cls in RENDERERS.values():
            if candidate and candidate in _keys(cls):
                return cls()
    raise ValueError(f"unknown report format {name_or_extension!r}: choose {_choices()}")
