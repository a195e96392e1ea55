"""Reference (ground-truth) tool calls with alternatives, and matching one call against one.

Reference forms, in ``record.metadata[expected_field]`` (a list; ``[]`` = no call expected):

- exact: ``{"name": "f", "arguments": {"a": 1}}``; add ``"optional": ["unit"]`` to let the call
  leave those parameters out. A parameter the reference gives with its schema default may be left
  out, and one the reference omits may be sent with its schema default.
- alternatives: ``{"name": "f", "possible_arguments": {"a": [1, 2], "unit": ["celsius", ""]}}``:
  each parameter lists its acceptable values; ``""`` in the list means "may be absent".
- BFCL's possible-answer form, as published: ``{"f": {"a": [1, 2], "unit": ["celsius", ""]}}``.
  Alternatives are judged by BFCL's rules for strings: case, spaces and ``,./-_*^`` ignored.
  Nested objects in alternatives are themselves ``{"key": [alternatives]}``.

Values: integers compare exactly (an integral float equals the same integer), the float tolerance
applies only when a side is a non-integral number, booleans are never numbers, lists keep order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass
class ValueRules:
    numeric_strings: bool = True
    case_insensitive: bool = False
    normalize_whitespace: bool = True
    float_tolerance: float = 1e-6


@dataclass
class Param:
    values: list[Any]  # acceptable values
    optional: bool = False
    loose_strings: bool = False  # BFCL's string rule


@dataclass
class Reference:
    name: str
    params: dict[str, Param] = field(default_factory=dict)
    shown: dict[str, Any] = field(default_factory=dict)  # for feedback


class BadReference(ValueError):
    """An expected call that is none of the forms above."""


def read_references(expected: Any, schemas: dict[str, dict[str, Any]]) -> list[Reference]:
    if not isinstance(expected, list):
        expected = [expected]
    out = []
    for i, exp in enumerate(expected):
        if not isinstance(exp, dict):
            raise BadReference(f"expected call {i + 1} is not an object: {exp!r:.60}")
        if isinstance(exp.get("name"), str):
            name = exp["name"]
            props = (schemas.get(name) or {}).get("properties") or {}
            if "possible_arguments" in exp:
                out.append(_alternatives(name, exp["possible_arguments"], loose=False))
                continue
            args = exp.get("arguments", exp.get("parameters")) or {}
            if isinstance(args, str):
                import orjson

                try:
                    args = orjson.loads(args)
                except orjson.JSONDecodeError:
                    raise BadReference(f"expected call {name}: arguments are not JSON") from None
            if not isinstance(args, dict):
                raise BadReference(f"expected call {name}: arguments must be an object")
            optional = set(exp.get("optional") or [])
            ref = Reference(name, shown=args)
            for key, value in args.items():
                default = props.get(key, {}).get("default", _MISSING) if isinstance(props.get(key), dict) else _MISSING
                ref.params[key] = Param([value], optional=key in optional or _same_plain(value, default))
            out.append(ref)
        elif len(exp) == 1 and isinstance(next(iter(exp.values())), dict):
            (name, alternatives), = exp.items()
            out.append(_alternatives(name, alternatives, loose=True))
        else:
            raise BadReference(f"expected call {i + 1} has no 'name': {exp!r:.60}")
    return out


_MISSING = object()


def _same_plain(a: Any, b: Any) -> bool:
    return b is not _MISSING and type(a) is type(b) and a == b


def _alternatives(name: str, alternatives: Any, loose: bool) -> Reference:
    if not isinstance(alternatives, dict):
        raise BadReference(f"expected call {name}: possible arguments must be an object")
    ref = Reference(name, shown={k: v for k, v in alternatives.items()})
    for key, values in alternatives.items():
        values = values if isinstance(values, list) else [values]
        ref.params[key] = Param([v for v in values if v != ""], optional="" in values, loose_strings=loose)
    return ref


def match(ref: Reference, args: dict[str, Any], schema: dict[str, Any], rules: ValueRules) -> list[str]:
    """Why ``args`` is not the reference call ([] when it is)."""
    problems = []
    props = schema.get("properties") or {}
    for key, param in ref.params.items():
        if key not in args:
            default = props.get(key, {}).get("default", _MISSING) if isinstance(props.get(key), dict) else _MISSING
            if not (param.optional or (default is not _MISSING and _any_equal(param, default, rules))):
                problems.append(f"missing {key!r} (expected {_show(param)})")
        elif not _any_equal(param, args[key], rules):
            problems.append(f"{key!r} expected {_show(param)}, got {args[key]!r}")
    for key in args.keys() - ref.params.keys():
        default = props.get(key, {}).get("default", _MISSING) if isinstance(props.get(key), dict) else _MISSING
        if default is _MISSING:
            problems.append(f"unexpected {key!r}={args[key]!r}")
        elif not values_equal(default, args[key], rules, loose=False):
            problems.append(f"{key!r} expected {default!r}, got {args[key]!r} (the reference keeps the default)")
    return problems


def _show(param: Param) -> str:
    if len(param.values) == 1:
        return repr(param.values[0])
    return "one of " + ", ".join(map(repr, param.values[:4])) + ("..." if len(param.values) > 4 else "")


def _any_equal(param: Param, got: Any, rules: ValueRules) -> bool:
    return any(values_equal(want, got, rules, loose=param.loose_strings) for want in param.values)


def values_equal(want: Any, got: Any, rules: ValueRules, loose: bool) -> bool:
    if isinstance(want, dict) and isinstance(got, dict):
        if loose:  # BFCL nests alternatives: {"key": [v1, v2, ""]}
            nested = _alternatives("nested", want, loose=True)
            return not match(nested, got, {}, rules)
        return want.keys() == got.keys() and all(values_equal(want[k], got[k], rules, loose) for k in want)
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        return len(want) == len(got) and all(values_equal(w, g, rules, loose) for w, g in zip(want, got))
    nw, ng = _number(want, rules), _number(got, rules)
    if nw is not None and ng is not None:
        return _numbers_equal(nw, ng, rules.float_tolerance)
    if isinstance(want, str) and isinstance(got, str):
        return _text(want, rules, loose) == _text(got, rules, loose)
    return type(want) is type(got) and want == got


def _numbers_equal(a: int | float, b: int | float, tolerance: float) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    if float(a).is_integer() and float(b).is_integer():
        return int(a) == int(b)  # integers exactly: 1000001 is not 1000000 "within 1e-6"
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _number(v: Any, rules: ValueRules) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if rules.numeric_strings and isinstance(v, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", v):
        return float(v) if re.search(r"[.eE]", v) else int(v)
    return None


def _text(s: str, rules: ValueRules, loose: bool) -> str:
    if loose:
        return _BFCL_STRIP.sub("", s).lower().replace("'", '"')
    if rules.normalize_whitespace:
        s = " ".join(s.split())
    return s.casefold() if rules.case_insensitive else s
