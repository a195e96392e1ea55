"""Docstrings, JSDoc and Javadoc -> descriptions, parameter docs and types; source types -> JSON schema.

Google (``Args:`` with ``name (type): text``), reST (``:param name:`` / ``:type name:``) and NumPy
(``Parameters`` / ``----------`` / ``name : type``) docstrings; JSDoc ``@param {type} [name=default]``;
Javadoc ``@param name text``. A parameter doc saying ``optional`` makes it optional; a type or doc
listing quoted values (``'a' | 'b'``, ``one of "x", "y"``) gives an enum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ParamDoc:
    text: str = ""
    type: str = ""
    optional: bool = False
    default: str | None = None


@dataclass
class Doc:
    summary: str = ""
    params: dict[str, ParamDoc] = field(default_factory=dict)
    returns: str = ""


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Returns?|Raises|Yields|Examples?|Notes?|See Also)\s*:?\s*$")
_GOOGLE_PARAM = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_PARAM = re.compile(r"^\s*(\w+)\s*:\s*(.+)$")
_REST_PARAM = re.compile(r"^\s*:param\s+(?:([\w\[\], .|]+)\s+)?(\w+)\s*:\s*(.*)$")
_REST_TYPE = re.compile(r"^\s*:type\s+(\w+)\s*:\s*(.*)$")
_QUOTED = re.compile(r"""["']([^"'\s]{1,40})["']""")


def _first_paragraph(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out:
                break
            continue
        if _SECTION.match(line) or line.strip().startswith((":param", ":type", ":return", "@")):
            break
        out.append(line.strip())
    return " ".join(out)


def parse_docstring(text: str) -> Doc:
    lines = text.expandtabs().strip("\n").splitlines()
    doc = Doc(summary=_first_paragraph(lines))
    section, numpy, current, current_indent = "", False, None, 0
    for i, line in enumerate(lines):
        m = _SECTION.match(line)
        if m:
            section, current = m.group(1).lower(), None
            numpy = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}  # NumPy underlines its headers
            continue
        if set(line.strip()) == {"-"}:
            continue
        rest = _REST_PARAM.match(line)
        if rest:
            current = doc.params.setdefault(rest.group(2), ParamDoc())
            current.text, current.type = rest.group(3).strip(), (rest.group(1) or current.type).strip()
            continue
        rtype = _REST_TYPE.match(line)
        if rtype:
            doc.params.setdefault(rtype.group(1), ParamDoc()).type = rtype.group(2).strip()
            continue
        if line.strip().startswith((":return:", ":returns:")):
            doc.returns = line.split(":", 2)[2].strip()
            continue
        indent = len(line) - len(line.lstrip())
        if section.startswith(("arg", "param")):
            entry = (_NUMPY_PARAM if numpy else _GOOGLE_PARAM).match(line)
            if entry and (current is None or indent <= current_indent):
                current, current_indent = doc.params.setdefault(entry.group(1), ParamDoc()), indent
                if numpy:
                    current.type = entry.group(2).strip()
                else:
                    current.type, current.text = (entry.group(2) or "").strip(), entry.group(3).strip()
            elif current is not None and line.strip():
                current.text = f"{current.text} {line.strip()}".strip()
        elif section.startswith("return") and line.strip() and not doc.returns:
            doc.returns = line.strip()
    for p in doc.params.values():
        if re.search(r"\boptional\b", f"{p.type} {p.text}", re.IGNORECASE):
            p.optional = True
            p.type = re.sub(r",?\s*optional", "", p.type, flags=re.IGNORECASE).strip()
    return doc


def _comment_lines(comment: str) -> list[str]:
    body = comment.strip()
    body = body[3:] if body.startswith("/**") else body[2:]
    body = body.removesuffix("*/")
    return [re.sub(r"^\s*\*\s?", "", line) for line in body.splitlines()]


_JSDOC_PARAM = re.compile(r"^@(?:param|arg|argument)\s+(?:\{([^}]*)\}\s*)?(\[[^\]]+\]|[\w.$]+)\s*(?:-\s*)?(.*)$")
_JAVADOC_PARAM = re.compile(r"^@param\s+(\w+)\s*(.*)$")


def parse_jsdoc(comment: str) -> Doc:
    lines = _comment_lines(comment)
    doc = Doc(summary=_first_paragraph(lines))
    current: ParamDoc | None = None
    for line in (ln.strip() for ln in lines):
        m = _JSDOC_PARAM.match(line)
        if m:
            type_, name, text = m.group(1) or "", m.group(2), m.group(3).strip()
            optional, default = False, None
            if name.startswith("["):
                optional = True
                name, _, default = name[1:-1].partition("=")
                default = default or None
            if type_.endswith("="):  # Closure style {number=}
                optional, type_ = True, type_[:-1]
            if "." in name:  # nested property of an options object: documented but not a parameter
                current = None
                continue
            current = doc.params[name] = ParamDoc(text, type_, optional, default)
        elif line.startswith(("@return", "@returns")):
            doc.returns, current = re.sub(r"^@returns?\s*(\{[^}]*\})?\s*", "", line), None
        elif line.startswith("@"):
            current = None
        elif current is not None and line:
            current.text = f"{current.text} {line}".strip()
    return doc


def parse_javadoc(comment: str) -> Doc:
    lines = _comment_lines(comment)
    doc = Doc(summary=re.sub(r"\{@\w+\s+([^}]*)\}", r"\1", _first_paragraph(lines)))
    current: ParamDoc | None = None
    for line in (ln.strip() for ln in lines):
        m = _JAVADOC_PARAM.match(line)
        if m:
            current = doc.params[m.group(1)] = ParamDoc(m.group(2).strip())
            current.optional = bool(re.search(r"\boptional\b|\bmay be null\b|\bnullable\b", line, re.IGNORECASE))
        elif line.startswith("@return"):
            doc.returns, current = line[len("@return"):].strip(), None
        elif line.startswith("@"):
            current = None
        elif current is not None and line:
            current.text = f"{current.text} {line}".strip()
    return doc


_SCALARS = {
    "int": "integer", "integer": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "bigint": "integer", "float": "number", "double": "number", "number": "number", "decimal": "number",
    "bigdecimal": "number", "str": "string", "string": "string", "char": "string", "character": "string",
    "charsequence": "string", "bool": "boolean", "boolean": "boolean", "dict": "object", "object": "object",
    "map": "object", "hashmap": "object", "mapping": "object", "record": "object",
}
_ARRAYS = ("list", "sequence", "tuple", "set", "frozenset", "iterable", "array", "arraylist", "collection",
           "readonlyarray")


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[<(" and 1 or 0
        depth -= ch in "]>)" and 1 or 0
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in parts + [cur] if p.strip()]


def type_schema(type_text: str, enums: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """A JSON schema for a source type (``list[int]``, ``Optional[str]``, ``'a'|'b'``, ``int[]``, ``Color``)."""
    t = type_text.strip().strip("{}").strip()
    if not t:
        return {}
    if enums and t in enums:
        values = enums[t]
        kinds = {type(v) for v in values}
        return {"type": "integer" if kinds == {int} else "string", "enum": values}
    m = re.fullmatch(r"(?:typing\.)?Literal\[(.*)\]", t)
    if m:
        t = m.group(1).replace(",", "|")
    alternatives = _split_top(t, "|")
    if len(alternatives) > 1:
        literals = [a.strip("\"'") for a in alternatives if a[:1] in "\"'"]
        if literals and len(literals) == len(alternatives):
            return {"type": "string", "enum": literals}
        numbers = [a for a in alternatives if re.fullmatch(r"-?\d+", a)]
        if numbers and len(numbers) == len(alternatives):
            return {"type": "integer", "enum": [int(n) for n in numbers]}
        rest = [a for a in alternatives if a.lower() not in ("none", "null", "undefined", "nonetype")]
        return type_schema(rest[0], enums) if len(rest) == 1 else {}
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.*)\]", t)
    if m:
        return type_schema(m.group(1), enums)
    if t.endswith("[]"):
        inner = type_schema(t[:-2], enums)
        return {"type": "array", "items": inner} if inner else {"type": "array"}
    m = re.fullmatch(r"([\w.]+)\s*[\[<](.*)[\]>]", t)
    base = (m.group(1) if m else t).split(".")[-1].lower()
    if base in _ARRAYS:
        args = _split_top(m.group(2), ",") if m else []
        inner = type_schema(args[0], enums) if len(args) == 1 else {}
        return {"type": "array", "items": inner} if inner else {"type": "array"}
    if base in _SCALARS:
        return {"type": _SCALARS[base]}
    return {}


def enum_from_text(text: str) -> list[str]:
    """Values a parameter doc lists as its choices: ``one of 'a', 'b'`` / ``either "x" or "y"``."""
    m = re.search(r"(?:one of|either|must be|choices?:?|allowed values?:?)\s+(.*)", text, re.IGNORECASE)
    if not m:
        return []
    values = _QUOTED.findall(m.group(1))
    return values if len(values) >= 2 else []
