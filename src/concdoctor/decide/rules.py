"""The decision matrix, kept as data in TOML and matched against named metrics.

A rules file is a list of ``[[rule]]`` tables tried in priority order (higher first,
then file order); the first whose ``when`` conditions all hold decides. Nothing in a
rules file is ever executed: conditions compare metrics declared in
:mod:`concdoctor.decide.metrics`, worker counts use
:mod:`concdoctor.decide.expressions`, reasons fill ``{metric}`` / ``{metric:.0%}``
placeholders. Every mistake is a :class:`RulesError` naming the file, the rule id and
the line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from concdoctor import executors as registry
from concdoctor.decide import expressions
from concdoctor.decide.metrics import REASON_ONLY, metric_types, python_version_tuple
from concdoctor.errors import RulesError
from concdoctor.options import PROJECT_KEYS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in")
RULE_KEYS = {"id", "when", "executor", "workers", "chunksize", "min_speedup", "reason",
             "advice", "priority"}
TOP_KEYS = {"version", "extend_default", "alternatives", "rule"}
PYPROJECT_KEYS = TOP_KEYS | {"rules"} | set(PROJECT_KEYS)
"""[tool.concdoctor] holds rules and the settings of concdoctor.options.PROJECT_KEYS."""
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)(?::([^{}]*))?\}")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: Any

    def holds(self, metrics: Mapping[str, Any]) -> bool:
        actual = metrics[self.metric]
        if self.op == "in":
            return actual in self.value
        if self.op == "not_in":
            return actual not in self.value
        if self.op == "==":
            return bool(actual == self.value)
        if self.op == "!=":
            return bool(actual != self.value)
        if self.op == "<":
            return bool(actual < self.value)
        if self.op == "<=":
            return bool(actual <= self.value)
        if self.op == ">":
            return bool(actual > self.value)
        return bool(actual >= self.value)


DEFAULT = "default"
"""``chunksize = "default"`` in a rule: the ``[alternatives]`` chunk size."""
CHUNKSIZE_KEY = "chunksize"
"""The key of ``[alternatives]`` that holds the chunk size, beside the executors."""


@dataclass(frozen=True)
class Rule:
    id: str
    executor: str
    workers: expressions.Node | None
    """None: the executor's worker count from ``[alternatives]``."""
    chunksize: expressions.Node | str | None
    """None: no chunking; :data:`DEFAULT`: the ``[alternatives]`` chunk size."""
    min_speedup: float
    reason: str
    conditions: tuple[Condition, ...] = ()
    advice: str | None = None
    priority: int = 0
    source: str = ""

    def matches(self, metrics: Mapping[str, Any]) -> bool:
        return all(condition.holds(metrics) for condition in self.conditions)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    alternatives: dict[str, expressions.Node] = field(default_factory=dict)
    """Worker counts that override an executor's registry default (and the chunk size,
    under ``chunksize``): used when an executor is measured as an alternative, by rules
    that leave them out, and by the capacity model, so that all three speak of the same
    pools."""
    sources: tuple[str, ...] = ()

    def first_match(self, metrics: Mapping[str, Any]) -> Rule | None:
        return next((rule for rule in self.rules if rule.matches(metrics)), None)

    def workers(self, executor: str, *, tasks: int, cpu_count: int,
                cluster_workers: int = 0) -> int:
        """The executor's worker count: the rules' ``[alternatives]``, else its registry
        entry's default (1 for the sequential reference)."""
        if executor == registry.SEQUENTIAL:
            return 1
        node = self.alternatives.get(executor)
        if node is None:
            node = expressions.parse(registry.get(executor).workers)
        return max(1, expressions.evaluate(node, names(tasks, cpu_count, 1, cluster_workers)))

    def chunksize(self, *, tasks: int, cpu_count: int, workers: int) -> int:
        """The ``[alternatives]`` chunk size for a pool of ``workers``."""
        node = self.alternatives.get(CHUNKSIZE_KEY)
        if node is None:
            return 1
        return max(1, expressions.evaluate(node, names(tasks, cpu_count, workers)))


def names(tasks: int, cpu_count: int, workers: int, cluster_workers: int = 0,
          knee: int | None = None) -> dict[str, int]:
    """The values of the names a worker or chunk-size expression may use (``knee``: the
    scaling curve's, where known; else as many as the tasks)."""
    return {"tasks": tasks, "cpu_count": cpu_count, "workers": workers,
            "cluster_workers": cluster_workers, "knee": tasks if knee is None else knee}


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` and ``{name:spec}`` from ``values``; format specs only, no lookups."""

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return "n/a"
        if isinstance(value, tuple):
            value = ".".join(map(str, value))
        try:
            return format(value, match.group(2) or "")
        except (ValueError, TypeError):
            return str(value)

    return _PLACEHOLDER.sub(one, template)


# -- loading ----------------------------------------------------------------------------

def default_rules_text() -> str:
    return resources.files("concdoctor").joinpath("rules/default.toml").read_text("utf-8")


def load(rules_file: str | Path | None = None, *, pyproject: str | Path | None = None) -> (
        RuleSet):
    """The rules in force: a user's file (``--rules``, else ``[tool.concdoctor]``) first,
    then the defaults unless the user's file says ``extend_default = false``."""
    default = parse_rules(default_rules_text(), "rules/default.toml (built in)")
    user: RuleSet | None = None
    extend = True
    if rules_file is not None:
        path = Path(rules_file)
        text = _read(path)
        user, extend = parse_rules(text, str(path)), _extend_flag(text, str(path))
    elif pyproject is not None and Path(pyproject).is_file():
        user, extend = _from_pyproject(Path(pyproject))
    if user is None:
        return default
    rules = user.rules + (default.rules if extend else ())
    if not rules:
        raise RulesError(f"{user.sources[0]}: no [[rule]] tables and extend_default = false")
    return RuleSet(rules, {**default.alternatives, **user.alternatives},
                   user.sources + (default.sources if extend else ()))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"rules file {str(path)!r} not found; check the --rules path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"rules file {str(path)!r} cannot be read: {exc}") from None


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: invalid TOML: {exc}") from None


def _extend_flag(text: str, source: str) -> bool:
    flag = _toml(text, source).get("extend_default", True)
    if not isinstance(flag, bool):
        raise RulesError(f"{source}: extend_default must be true or false")
    return flag


def _from_pyproject(path: Path) -> tuple[RuleSet | None, bool]:
    text = _read(path)
    section = _toml(text, str(path)).get("tool", {}).get("concdoctor")
    if not section:
        return None, True
    _check_keys(section, PYPROJECT_KEYS, f"{path} [tool.concdoctor]", text, None)
    extend = section.get("extend_default", True)
    if "rules" in section:
        rules_path = (path.parent / str(section["rules"])).resolve()
        rules_text = _read(rules_path)
        return parse_rules(rules_text, str(rules_path)), extend and _extend_flag(
            rules_text, str(rules_path))
    return _build(section, text, f"{path} [tool.concdoctor]", "[[tool.concdoctor.rule]]"), extend


def parse_rules(text: str, source: str) -> RuleSet:
    return _build(_toml(text, source), text, source, "[[rule]]")


def _build(data: dict[str, Any], text: str, source: str, header: str) -> RuleSet:
    _check_keys(data, TOP_KEYS | PYPROJECT_KEYS, source, text, None)
    lines = _rule_lines(text, header)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RulesError(f"{source}: 'rule' must be an array of tables ({header})")
    rules = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        line = lines[index] if index < len(lines) else 0
        rule = _rule(raw, index, source, line, _block(text, lines, index))
        if rule.id in seen:
            raise RulesError(f"{source}:{line}: rule {rule.id!r}: duplicate id")
        seen.add(rule.id)
        rules.append(rule)
    ordered = sorted(enumerate(rules), key=lambda pair: (-pair[1].priority, pair[0]))
    alternatives = {}
    for executor, expression in dict(data.get("alternatives", {})).items():
        where = f"{source}:{_key_line(text, executor, 0)}: [alternatives] {executor}"
        if not registry.known(executor) and executor != CHUNKSIZE_KEY:
            raise RulesError(f"{where}: unknown executor {executor!r}; use one of "
                             f"{', '.join(registry.names())}, or {CHUNKSIZE_KEY}")
        alternatives[executor] = _expression(expression, where, executor if executor ==
                                             CHUNKSIZE_KEY else "workers")
    return RuleSet(tuple(rule for _, rule in ordered), alternatives, (source,))


def _rule(raw: Any, index: int, source: str, line: int, block: str) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{source}:{line}: rule #{index + 1} is not a table")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise RulesError(f"{source}:{line}: rule #{index + 1} has no id = \"...\"")
    where = f"{source}:{line}: rule {rule_id!r}"
    _check_keys(raw, RULE_KEYS, where, block, line)
    executor = raw.get("executor")
    if not registry.known(executor):
        raise RulesError(f"{where}: unknown executor {executor!r}; use one of "
                         f"{', '.join(registry.names())}")
    reason = raw.get("reason")
    if not isinstance(reason, str):
        raise RulesError(f"{where}: reason = \"...\" is required (placeholders like "
                         "{gil_fraction:.0%} fill in measured numbers)")
    for text in (reason, raw.get("advice") or ""):
        _check_placeholders(text, where)
    min_speedup = raw.get("min_speedup", 1.0)
    priority = raw.get("priority", 0)
    if not isinstance(min_speedup, (int, float)) or isinstance(min_speedup, bool):
        raise RulesError(f"{where}: min_speedup must be a number")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise RulesError(f"{where}: priority must be an integer")
    workers, chunksize = raw.get("workers"), raw.get("chunksize")
    return Rule(
        id=rule_id, executor=executor,
        workers=None if workers is None else _expression(workers, where, "workers"),
        chunksize=(None if not chunksize else DEFAULT if chunksize == DEFAULT
                   else _expression(chunksize, where, "chunksize")),
        min_speedup=float(min_speedup), reason=reason,
        conditions=_conditions(raw.get("when", {}), where, block),
        advice=raw.get("advice"), priority=priority, source=source,
    )


def _expression(value: Any, where: str, key: str) -> expressions.Node:
    try:
        return expressions.parse(str(value))
    except expressions.ExpressionError as exc:
        raise RulesError(f"{where}: {key}: {exc}") from None


def _conditions(when: Any, where: str, block: str) -> tuple[Condition, ...]:
    if not isinstance(when, dict):
        raise RulesError(f"{where}: 'when' must be a table of metric = value")
    conditions = []
    for metric, test in when.items():
        if metric not in metric_types():
            raise RulesError(f"{where} (line {_key_line(block, metric, 0)}): unknown metric "
                             f"{metric!r}; known metrics: {', '.join(metric_types())}")
        tests = test.items() if isinstance(test, dict) else [("==", test)]
        for op, value in tests:
            if op not in OPERATORS:
                raise RulesError(f"{where} (line {_key_line(block, metric, 0)}): unknown "
                                 f"operator {op!r} for {metric!r}; use {', '.join(OPERATORS)}")
            conditions.append(Condition(metric, op, _typed(metric, op, value, where)))
    return tuple(conditions)


def _typed(metric: str, op: str, value: Any, where: str) -> Any:
    kind = metric_types()[metric]
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise RulesError(f"{where}: {metric} {op} needs a list")
        return tuple(_typed(metric, "==", item, where) for item in value)
    if kind is tuple:
        try:
            return python_version_tuple(value)
        except ValueError as exc:
            raise RulesError(f"{where}: {metric}: {exc}") from None
    ok = (isinstance(value, bool) if kind is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if kind in (int, float)
          else isinstance(value, kind))
    if not ok:
        raise RulesError(f"{where}: {metric} compares with a {kind.__name__}, got {value!r}")
    if metric == "kind":
        from concdoctor.diagnosis import KINDS
        if value not in KINDS:
            raise RulesError(f"{where}: unknown kind {value!r}; use one of {', '.join(KINDS)}")
    return value


def _check_placeholders(template: str, where: str) -> None:
    known = set(metric_types()) | set(REASON_ONLY)
    for braces in re.findall(r"\{[^{}]*\}", template):
        if not _PLACEHOLDER.fullmatch(braces):
            raise RulesError(f"{where}: {braces!r} in reason is not a placeholder; use "
                             "{metric} or {metric:format}")
    for match in _PLACEHOLDER.finditer(template):
        if match.group(1) not in known:
            raise RulesError(f"{where}: reason placeholder {{{match.group(1)}}} is not a "
                             "metric")
        try:
            format(0.5 if match.group(1) not in ("kind", "executor") else "x",
                   match.group(2) or "")
        except ValueError:
            raise RulesError(f"{where}: bad format {match.group(0)!r} in reason") from None


def _check_keys(data: dict[str, Any], allowed: set[str], where: str, block: str,
                line: int | None) -> None:
    for key in data:
        if key not in allowed:
            at = f" (line {_key_line(block, key, line or 0)})" if block else ""
            raise RulesError(f"{where}{at}: unknown key {key!r}; allowed: "
                             f"{', '.join(sorted(allowed))}")


def _rule_lines(text: str, header: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if line.strip().replace(" ", "") == header]


def _block(text: str, lines: list[int], index: int) -> str:
    """The text of the index-th rule, prefixed with blank lines to keep line numbers."""
    if index >= len(lines):
        return ""
    all_lines = text.splitlines()
    end = lines[index + 1] - 1 if index + 1 < len(lines) else len(all_lines)
    return "\n" * (lines[index] - 1) + "\n".join(all_lines[lines[index] - 1:end])


def _key_line(block: str, key: str, fallback: int) -> int:
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*=")
    for number, line in enumerate(block.splitlines(), start=1):
        if pattern.search(line):
            return number
    return fallback
