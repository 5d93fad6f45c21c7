"""Which module-level state does one task write? Answered cheaply, before anything is timed.

Threads share a module's globals; processes each get a copy. A task that bumps a counter,
fills a cache or parks a value in a module dict across a ``time.sleep`` races (or quietly
stops sharing) once the batch moves to a pool, so concdoctor must say so before advising
one. Two checks, each seeing what the other cannot:

* :func:`static_writes` reads the bytecode of the function, its nested code and the user
  functions it calls: it finds writes that leave no trace once the task is over (an entry
  written, then popped), not writes made inside helper objects' methods or C code;
* :func:`snapshot` and :func:`changed` compare ids and shallow fingerprints of the user
  modules' globals around one task: they find those, if still visible afterwards.

Both run in the child that imports the user's code. Nothing is pickled, repr'd or walked
deeply (ids, and at most :data:`SAMPLE` items per container), so a big module costs
milliseconds.
"""

from __future__ import annotations

import array
import collections
import dis
import functools
import inspect
import itertools
import os
import site
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from concdoctor.protocol import PACKAGE_DIR

MAX_DEPTH = 3  # calls deep the scan follows user functions
SAMPLE = 1000  # items of each container a snapshot looks at
MUTATORS = frozenset({
    "append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault",
    "add", "discard", "appendleft", "extendleft", "popleft", "rotate", "sort", "reverse",
    "move_to_end", "subtract", "difference_update", "intersection_update",
    "symmetric_difference_update", "__setitem__", "__delitem__", "__setattr__", "__delattr__",
    "__iadd__", "__ior__", "__iand__", "__isub__", "__ixor__"})
_CONTAINERS = (dict, list, set, bytearray, collections.deque, array.array)
_PLAIN = (int, float, complex, str, bytes, tuple, frozenset, type(None))  # nothing to walk
_WALKS: tuple[tuple[type, Callable[[Any], Iterable[Any]]], ...] = (
    (collections.OrderedDict, collections.OrderedDict.items), (dict, dict.items),
    (list, list.__iter__), (set, set.__iter__), (collections.deque, collections.deque.__iter__))
_PUSHES = frozenset({  # instructions that only push: the start of a subscript's key
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST", "LOAD_FAST_BORROW", "LOAD_CONST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "LOAD_SMALL_INT", "LOAD_GLOBAL", "LOAD_DEREF",
    "LOAD_NAME", "PUSH_NULL"})
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_METHOD_FLAG = sys.version_info >= (3, 12)  # LOAD_ATTR's low bit then means "a method"
_SHARED_BY_DESIGN = {"threading", "_thread", "queue", "asyncio", "multiprocessing",
                     "concurrent"}  # events, queues, locks: made to be shared
_Entry = tuple[int, "tuple[int, int] | None"]


@dataclass(frozen=True)
class StateWrite:
    """One module-level name a task writes; ``function`` is empty when seen only at run time."""

    module: str
    name: str
    how: str
    function: str = ""

    def __str__(self) -> str:
        where = f" in {self.function}" if self.function else ""
        return f"{self.module}.{self.name} ({self.how}{where})"


@dataclass(frozen=True)
class Snapshot:
    """Per (module, name): the value's id and, for containers, (length, hash of item ids)."""

    values: Mapping[tuple[str, str], _Entry]
    items_seen: int
    keep: tuple[Any, ...] = field(default=(), repr=False, compare=False)  # ids stay unique


# -- which code is the user's -----------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False  # frozen modules, exec'd strings
    paths = sysconfig.get_paths()
    dirs = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    dirs += [*getattr(site, "getsitepackages", list)(), str(PACKAGE_DIR)]
    path = os.path.normcase(os.path.abspath(filename))
    if {"site-packages", "dist-packages"} & set(path.split(os.sep)):
        return False
    return not path.startswith(tuple(os.path.normcase(d) + os.sep for d in dirs if d))


def _is_user_function(fn: types.FunctionType) -> bool:
    top = str(fn.__globals__.get("__name__", "")).partition(".")[0]
    return top not in sys.stdlib_module_names and top != "concdoctor" and \
        _is_user_file(fn.__code__.co_filename)


def _namespace(module: Any) -> dict[str, Any] | None:
    """A module's globals, read without running a lazy module's ``__getattribute__``."""
    if isinstance(module, types.ModuleType):
        namespace = object.__getattribute__(module, "__dict__")
        return namespace if isinstance(namespace, dict) else None
    return None


def _is_mutable(value: Any) -> bool:
    if isinstance(value, _CONTAINERS):
        return True
    if isinstance(value, (types.ModuleType, type, threading.local)) or inspect.isroutine(value):
        return False  # thread-local state is the cure, not the disease
    if str(type(value).__module__).partition(".")[0] in _SHARED_BY_DESIGN:
        return False
    try:
        return isinstance(object.__getattribute__(value, "__dict__"), dict)
    except Exception:  # no __dict__, or a proxy that refuses: not state we can name
        return False


# -- static scan --------------------------------------------------------------------------

def _unwrap(func: Any) -> list[types.FunctionType]:
    """The Python functions behind ``func``, outermost first: through partials, bound
    methods, decorators' ``__wrapped__`` and a callable object's ``__call__``."""
    chain: list[types.FunctionType] = []
    current, seen = func, set[int]()
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        if isinstance(current, types.FunctionType):
            chain.append(current)
        if isinstance(current, functools.partial):
            current = current.func
        elif isinstance(current, (types.MethodType, staticmethod, classmethod)):
            current = current.__func__
        elif (wrapped := inspect.getattr_static(current, "__wrapped__", None)) is not None:
            current = wrapped
        elif callable(current) and not isinstance(current, (type, types.FunctionType)):
            current = inspect.getattr_static(type(current), "__call__", None)
        else:
            current = None
    return chain


def _is_method_load(ins: dis.Instruction) -> bool:
    return ins.opname == "LOAD_METHOD" or (
        ins.opname == "LOAD_ATTR" and _METHOD_FLAG and bool((ins.arg or 0) & 1))


def _key_end(code: list[dis.Instruction], i: int) -> tuple[str, int]:
    """Walk a subscript key starting at ``code[i]``, the container just below it: what
    consumes (container, key), and where. Depth counts stack items above the container."""
    depth = 0
    for j in range(i, min(len(code), i + 200)):
        ins, name = code[j], code[j].opname
        if depth == 1 and (name == "DUP_TOP_TWO" or (name == "COPY" and ins.argval == 2)):
            return "item assignment", j  # d[k] op= v
        if depth == 1 and name in ("STORE_SUBSCR", "DELETE_SUBSCR"):
            return ("item assignment" if name == "STORE_SUBSCR" else "deletes an item"), j
        if depth == 2 and name in ("STORE_SLICE", "DELETE_SLICE"):
            return "slice assignment", j
        if depth == 1 and (name == "BINARY_SUBSCR" or (name, ins.argrepr) == ("BINARY_OP", "[]")):
            return "read", j
        if ins.opcode in _JUMPS:
            break
        try:
            depth += dis.stack_effect(ins.opcode, ins.arg)
        except ValueError:
            break
        if depth < 1:
            break
    return "", i


def _attribute(value: Any, attr: str) -> tuple[tuple[str, str], Any]:
    """(owner, value) of a module's or a class's attribute, read without running code."""
    if isinstance(value, types.ModuleType):
        return (value.__name__, attr), (_namespace(value) or {}).get(attr)
    found = inspect.getattr_static(value, attr, None)
    found = found.__func__ if isinstance(found, (staticmethod, classmethod)) else found
    return (value.__module__, f"{value.__qualname__}.{attr}"), found


def _trace(code: list[dis.Instruction], i: int, owner: tuple[str, str], value: Any,
           ) -> tuple[tuple[str, str, str] | None, types.FunctionType | None]:
    """What the code does with a global's ``value``, loaded just before ``code[i]``: a write
    to it (module, name, how) or the function it names. ``path`` is how deep into it."""
    path, known = "", True
    while i < len(code):
        ins, name = code[i], code[i].opname
        if known and isinstance(value, types.FunctionType):
            return None, value
        if known and isinstance(value, (types.ModuleType, type)):
            if name not in ("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"):
                return None, None
            owner, value = _attribute(value, ins.argval)
            if name in ("STORE_ATTR", "DELETE_ATTR"):
                return (*owner, "rebinds it" if name == "STORE_ATTR" else "deletes it"), None
            i += 1
        elif known and not _is_mutable(value):
            return None, None
        elif name in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval in MUTATORS:
            return (*owner, f"calls {path}.{ins.argval}()"), None
        elif name in ("STORE_ATTR", "DELETE_ATTR"):
            verb = "sets" if name == "STORE_ATTR" else "deletes"
            return (*owner, f"{verb} {path}.{ins.argval}"), None
        elif name in ("DUP_TOP", "COPY") and ins.argval in (None, 1) and i + 1 < len(code):
            after = code[i + 1]  # x.attr op= v
            if after.opname == "LOAD_ATTR" and not _is_method_load(after):
                return (*owner, f"sets {path}.{after.argval}"), None
            return None, None
        elif name == "LOAD_ATTR" and not _is_method_load(ins):
            path, known, i = f"{path}.{ins.argval}", False, i + 1
        elif name in _PUSHES:
            how, end = _key_end(code, i)
            if how != "read":
                return ((*owner, f"{how} on {path}" if path else how) if how else None), None
            path, known, i = f"{path}[...]", False, end + 1
        else:
            return None, None
    return None, None


def _codes(code: types.CodeType, qualname: str) -> Iterator[tuple[types.CodeType, str]]:
    """A code object and every code object nested in it, each with its qualified name."""
    yield code, qualname
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            inner = getattr(const, "co_qualname", None) or f"{qualname}.<locals>.{const.co_name}"
            yield from _codes(const, inner)


def _scan_code(code: types.CodeType, qualname: str, namespace: dict[str, Any],
               ) -> Iterator[StateWrite | types.FunctionType]:
    """The writes in one code object, and the functions it names (to follow)."""
    module = str(namespace.get("__name__", "?"))
    instructions = list(dis.get_instructions(code))
    for i, ins in enumerate(instructions):
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            how = "rebinds it" if ins.opname == "STORE_GLOBAL" else "deletes it"
            yield StateWrite(module, ins.argval, how, qualname)
        elif ins.opname == "LOAD_GLOBAL" and ins.argval in namespace:
            write, named = _trace(instructions, i + 1, (module, ins.argval),
                                  namespace[ins.argval])
            yield from ([StateWrite(*write, function=qualname)] if write else [])
            yield from ([named] if named else [])


def _scan(func: Any) -> tuple[list[StateWrite], list[dict[str, Any]]]:
    """Writes found, and the global namespaces of the functions scanned, own module first."""
    chain = _unwrap(func)
    pending = [(fn, 0) for fn in reversed(chain) if fn is chain[-1] or _is_user_function(fn)]
    writes: list[StateWrite] = []
    namespaces: list[dict[str, Any]] = []
    seen: set[int] = set()
    while pending:
        fn, depth = pending.pop(0)
        if not any(ns is fn.__globals__ for ns in namespaces):
            namespaces.append(fn.__globals__)
        own = fn.__code__.co_qualname if hasattr(fn.__code__, "co_qualname") else fn.__qualname__
        for code, qualname in _codes(fn.__code__, own):
            if id(code) in seen:
                continue
            seen.add(id(code))
            for found in _scan_code(code, qualname, fn.__globals__):
                if isinstance(found, StateWrite) and found not in writes:
                    writes.append(found)
                elif (isinstance(found, types.FunctionType) and depth < MAX_DEPTH
                      and _is_user_function(found)):
                    pending.append((found, depth + 1))
    return writes, namespaces


def static_writes(func: Callable[..., Any]) -> tuple[StateWrite, ...]:
    """Module-level state the bytecode of ``func`` (and of user code it calls) writes."""
    return tuple(_scan(func)[0])


def _modules(namespaces: list[dict[str, Any]], writes: list[StateWrite]) -> list[types.ModuleType]:
    loaded = list(sys.modules.values())
    found = [next((m for m in loaded if _namespace(m) is ns), None) for ns in namespaces]
    for write in writes:  # a user module written through an attribute: shared.CACHE[k] = v
        namespace = _namespace(module := sys.modules.get(write.module))
        if namespace is not None and _is_user_file(str(namespace.get("__file__") or "")):
            found.append(module)
    return [m for i, m in enumerate(found) if m is not None and m not in found[:i]]


def user_modules(func: Callable[..., Any]) -> list[types.ModuleType]:
    """The module of ``func`` and the user modules the static scan went into."""
    writes, namespaces = _scan(func)
    return _modules(namespaces, writes)


# -- dynamic snapshot ---------------------------------------------------------------------

def _fingerprint(value: Any) -> tuple[tuple[int, int] | None, list[Any]]:
    """(length, hash of the first items' ids) of a mutable container or an object's
    ``__dict__``, and those items (kept alive, so their ids stay unique). Base-class
    methods are called, so a subclass's overrides never run."""
    if isinstance(value, _PLAIN):
        return None, []
    try:
        if isinstance(value, (bytearray, array.array)):
            head = bytes(value[:SAMPLE])
            return (len(value), hash(head)), [head]
        if not isinstance(value, _CONTAINERS) and _is_mutable(value):
            value = object.__getattribute__(value, "__dict__")
        walk = next((w for kind, w in _WALKS if isinstance(value, kind)), None)
        if walk is None:
            return None, []
        sample = list(itertools.islice(walk(value), SAMPLE))
    except Exception:  # resized by another thread mid-walk, or a hostile object: no print
        return None, []
    pairs = isinstance(value, dict)
    ids = [id(part) for pair in sample for part in pair] if pairs else [id(v) for v in sample]
    return (len(value), hash(tuple(ids))), sample


def snapshot(modules: Iterable[types.ModuleType]) -> Snapshot:
    """Ids and shallow fingerprints of the modules' data globals (not dunders, modules,
    classes or callables): cheap enough to take around a task, however big the module."""
    values: dict[tuple[str, str], _Entry] = {}
    keep: list[Any] = []
    seen = 0
    for module in modules:
        namespace = _namespace(module) or {}
        for name, value in list(namespace.items()):
            if (name.startswith("__") and name.endswith("__")) or callable(value) \
                    or isinstance(value, (types.ModuleType, type, threading.local)):
                continue
            mark, sample = _fingerprint(value)
            values[(str(namespace.get("__name__", "?")), name)] = (id(value), mark)
            keep.extend((value, sample))
            seen += len(sample)
    return Snapshot(values, seen, tuple(keep))


def changed(before: Snapshot, after: Snapshot) -> tuple[StateWrite, ...]:
    """Globals rebound, created, deleted or mutated in place between two snapshots."""
    writes: list[StateWrite] = []
    for key, (ident, mark) in before.values.items():
        now = after.values.get(key)
        if now is None or now[0] != ident:
            writes.append(StateWrite(*key, "deletes it" if now is None else "rebinds it"))
        elif mark is not None and now[1] is not None and now[1] != mark:
            writes.append(StateWrite(*key, "mutated in place"))
    writes += [StateWrite(*key, "rebinds it") for key in after.values if key not in before.values]
    return tuple(writes)


class Watch:
    """The static writes of ``func`` now, and what its tasks leave behind when asked: an
    entry per module-level name, static first. Started before the tasks run."""

    def __init__(self, func: Callable[..., Any]) -> None:
        found, namespaces = _scan(func)
        self._static = found
        self._modules = _modules(namespaces, found)
        self._before = snapshot(self._modules)

    def writes(self) -> tuple[StateWrite, ...]:
        merged: dict[tuple[str, str], StateWrite] = {}
        for write in (*self._static, *changed(self._before, snapshot(self._modules))):
            merged.setdefault((write.module, write.name), write)
        return tuple(merged.values())


def find(func: Callable[..., Any], run_one: Callable[[], Any]) -> tuple[StateWrite, ...]:
    """Static writes, then those one real task (``run_one``) leaves behind. Exceptions
    from ``run_one`` propagate."""
    watch = Watch(func)
    run_one()
    return watch.writes()
