"""Function definitions mined from real code with tree-sitter, as OpenAI tool schemas.

Python functions and methods with docstrings, JavaScript functions, arrow functions and methods
with JSDoc, Java methods with Javadoc. Each becomes a :class:`MinedFunction`: a name (methods as
``Class_method``, since tool names allow no dots), the doc summary as description, and a JSON
schema whose properties come from the code's parameters: types from annotations (Python, Java) or
the doc (JSDoc ``{type}``, docstring types), defaults from the code (``b=2``) or JSDoc
(``[b=2]``), required = no default and not documented as optional, enums from ``Literal[...]``,
an ``Enum`` / Java ``enum`` declared in the same file, a JSDoc union of string literals, or a doc
saying ``one of 'a', 'b'``. Undocumented and private (``_name``) functions are skipped: without a
description the model has nothing to choose by.

A function is ``runnable`` when it can be executed in the sandbox to put real results into the
dialog: a top-level Python or JavaScript function in a file that imports nothing outside a small
set of pure standard modules and whose body touches no I/O, clock, randomness or environment.

    python -m generators.tools._mining SRC_DIR [--out functions.jsonl]   # one item per file
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from generators.tools._docs import (
    Doc,
    ParamDoc,
    enum_from_text,
    parse_docstring,
    parse_javadoc,
    parse_jsdoc,
    type_schema,
)

LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".java": "java"}
_PURE_PY_MODULES = {"math", "statistics", "fractions", "decimal", "re", "string", "json", "itertools",
                    "functools", "collections", "datetime", "typing", "enum", "dataclasses", "__future__",
                    "operator", "heapq", "bisect", "cmath", "textwrap", "unicodedata"}
_IMPURE_PY = re.compile(r"\b(open|input|print|eval|exec|compile|__import__|globals|os|sys|subprocess|socket|"
                        r"random|time|requests|urllib|shutil|pathlib)\b")
_IMPURE_JS = re.compile(r"\b(require|import|export|fetch|document|window|process|console|XMLHttpRequest|"
                        r"setTimeout|setInterval|localStorage)\b|Math\.random|Date\b")


@dataclass
class MinedFunction:
    name: str
    language: str
    path: str
    line: int
    description: str
    parameters: dict[str, Any]
    returns: str = ""
    runnable: bool = False
    symbol: str = ""  # how code calls it: the function's own name
    param_order: list[str] = field(default_factory=list)

    def tool(self) -> dict[str, Any]:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def _parser(language: str):
    from tree_sitter import Language, Parser

    if language == "python":
        import tree_sitter_python as grammar
    elif language == "javascript":
        import tree_sitter_javascript as grammar
    else:
        import tree_sitter_java as grammar
    return Parser(Language(grammar.language()))


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def _literal(text: str) -> Any:
    """A default value as JSON data, or the source text when it is not a literal."""
    mapped = {"true": True, "false": False, "null": None, "undefined": None}.get(text.strip())
    if mapped is not None or text.strip() in ("null", "undefined"):
        return mapped
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text.strip()
    return value if isinstance(value, (int, float, str, bool, list, dict, type(None))) else text.strip()


def _schema(params: list[tuple[str, str, str | None]], doc: Doc, enums: dict[str, list[Any]]) -> dict[str, Any]:
    """``params``: (name, type from code, default source or None) in order."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, code_type, default in params:
        pdoc = doc.params.get(name)
        prop = type_schema(code_type, enums) or (type_schema(pdoc.type, enums) if pdoc else {})
        if pdoc and pdoc.text:
            prop["description"] = pdoc.text
            values = enum_from_text(pdoc.text)
            if values and "enum" not in prop and prop.get("type", "string") == "string":
                prop.update(type="string", enum=values)
        if default is None and pdoc and pdoc.default is not None:
            default = pdoc.default
        if default is not None:
            value = _literal(default)
            if value is not None and not (isinstance(value, str) and value == default.strip() and
                                          default.strip()[:1] not in "\"'" and prop.get("type") != "string"):
                prop["default"] = value
        elif not (pdoc and pdoc.optional):
            required.append(name)
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# ----------------------------------------------------------------------------------------------- Python
def _py_enums(root: Any) -> dict[str, dict[str, Any]]:
    """Enum classes of a module: class name -> {member name: value}."""
    enums: dict[str, dict[str, Any]] = {}
    for node in root.children:
        node = node.child_by_field_name("definition") or node if node.type == "decorated_definition" else node
        if node.type != "class_definition" or "Enum" not in _text(node.child_by_field_name("superclasses")):
            continue
        values = {}
        for stmt in node.child_by_field_name("body").children:
            if stmt.type == "expression_statement" and stmt.named_children[0].type == "assignment":
                assign = stmt.named_children[0]
                values[_text(assign.child_by_field_name("left"))] = _literal(_text(assign.child_by_field_name("right")))
        if values:
            enums[_text(node.child_by_field_name("name"))] = values
    return enums


def _enum_default(default: str | None, annotation: str, members: dict[str, dict[str, Any]]) -> str | None:
    """``Unit.MILLIMETRE`` as a default of an enum parameter -> the member's value, as source text."""
    cls, _, member = (default or "").partition(".")
    if default and cls == annotation.strip() and member in members.get(cls, {}):
        return repr(members[cls][member])
    return default


def _py_docstring(fn: Any) -> str:
    body = fn.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is None or first.type != "expression_statement" or first.named_children[0].type != "string":
        return ""
    value = _literal(_text(first.named_children[0]))
    return value if isinstance(value, str) else ""


def _py_params(fn: Any, is_method: bool) -> list[tuple[str, str, str | None]] | None:
    out = []
    for p in fn.child_by_field_name("parameters").named_children:
        if p.type in ("list_splat_pattern", "dictionary_splat_pattern", "keyword_separator",
                      "positional_separator"):
            continue  # *args / **kwargs take no schema; '*' and '/' are markers
        if p.type == "identifier":
            out.append((_text(p), "", None))
        elif p.type == "typed_parameter":
            if p.named_children[0].type != "identifier":
                continue
            out.append((_text(p.named_children[0]), _text(p.child_by_field_name("type")), None))
        elif p.type in ("default_parameter", "typed_default_parameter"):
            out.append((_text(p.child_by_field_name("name")), _text(p.child_by_field_name("type")),
                        _text(p.child_by_field_name("value"))))
    if is_method and out and out[0][0] in ("self", "cls"):
        out = out[1:]
    return out


def _py_pure_module(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] not in _PURE_PY_MODULES for a in node.names):
            return False
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] not in _PURE_PY_MODULES):
            return False
    return True


def _mine_python(source: bytes, path: str) -> list[MinedFunction]:
    root = _parser("python").parse(source).root_node
    members = _py_enums(root)
    enums = {name: list(values.values()) for name, values in members.items()}
    pure_module = _py_pure_module(source.decode("utf-8", "replace"))
    found: list[MinedFunction] = []

    def visit(node: Any, owner: str) -> None:
        for child in node.children:
            target = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if target is None:
                continue
            if target.type == "class_definition" and not owner:
                visit(target.child_by_field_name("body"), _text(target.child_by_field_name("name")))
            elif target.type == "function_definition":
                name = _text(target.child_by_field_name("name"))
                doc_text = _py_docstring(target)
                if name.startswith("_") or not doc_text.strip():
                    continue
                static = "@staticmethod" in _text(child) if child.type == "decorated_definition" else False
                params = [(n, t, _enum_default(d, t, members)) for n, t, d in
                          _py_params(target, is_method=bool(owner) and not static)]
                doc = parse_docstring(doc_text)
                runnable = pure_module and not owner and not _IMPURE_PY.search(_text(target.child_by_field_name("body")))
                found.append(MinedFunction(
                    name=f"{owner}_{name}" if owner else name, language="python", path=path,
                    line=target.start_point[0] + 1, description=doc.summary, parameters=_schema(params, doc, enums),
                    returns=doc.returns or _text(target.child_by_field_name("return_type")), runnable=runnable,
                    symbol=name, param_order=[p[0] for p in params]))

    visit(root, "")
    return found


# ------------------------------------------------------------------------------------------- JavaScript
def _doc_comment(node: Any) -> str:
    prev = node.prev_named_sibling
    if prev is not None and prev.type in ("comment", "block_comment") and _text(prev).startswith("/**"):
        return _text(prev)
    return ""


def _js_params(params_node: Any) -> list[tuple[str, str, str | None]]:
    out = []
    for p in params_node.named_children:
        if p.type == "identifier":
            out.append((_text(p), "", None))
        elif p.type == "assignment_pattern" and p.child_by_field_name("left").type == "identifier":
            out.append((_text(p.child_by_field_name("left")), "", _text(p.child_by_field_name("right"))))
    return out


def _mine_javascript(source: bytes, path: str) -> list[MinedFunction]:
    root = _parser("javascript").parse(source).root_node
    pure_module = not re.search(r"\b(require|import|export)\b", source.decode("utf-8", "replace"))
    found: list[MinedFunction] = []

    def add(name: str, fn: Any, doc_node: Any, owner: str, top_level: bool) -> None:
        comment = _doc_comment(doc_node)
        if not comment or name.startswith("_") or name == "constructor":
            return
        doc = parse_jsdoc(comment)
        params = _js_params(fn.child_by_field_name("parameters"))
        body = _text(fn.child_by_field_name("body"))
        found.append(MinedFunction(
            name=f"{owner}_{name}" if owner else name, language="javascript", path=path,
            line=fn.start_point[0] + 1, description=doc.summary, parameters=_schema(params, doc, {}),
            returns=doc.returns, runnable=pure_module and top_level and not owner and not _IMPURE_JS.search(body),
            symbol=name, param_order=[p[0] for p in params]))

    for stmt in root.named_children:
        decl = stmt.child_by_field_name("declaration") if stmt.type == "export_statement" else stmt
        if decl is None:
            continue
        if decl.type == "function_declaration":
            add(_text(decl.child_by_field_name("name")), decl, stmt, "", True)
        elif decl.type in ("lexical_declaration", "variable_declaration"):
            for d in decl.named_children:
                value = d.child_by_field_name("value")
                if (d.type == "variable_declarator" and value is not None
                        and value.type in ("arrow_function", "function_expression")
                        and value.child_by_field_name("parameters") is not None):
                    add(_text(d.child_by_field_name("name")), value, stmt, "", True)
        elif decl.type == "class_declaration":
            owner = _text(decl.child_by_field_name("name"))
            for member in decl.child_by_field_name("body").named_children:
                if member.type == "method_definition":
                    add(_text(member.child_by_field_name("name")), member, member, owner, False)
    return found


# ------------------------------------------------------------------------------------------------- Java
def _mine_java(source: bytes, path: str) -> list[MinedFunction]:
    root = _parser("java").parse(source).root_node
    enums: dict[str, list[Any]] = {}
    classes = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "enum_declaration":
            body = node.child_by_field_name("body")
            enums[_text(node.child_by_field_name("name"))] = [
                _text(c.child_by_field_name("name")) for c in body.named_children if c.type == "enum_constant"]
        if node.type in ("class_declaration", "interface_declaration"):
            classes.append(node)
        stack.extend(node.named_children)
    found: list[MinedFunction] = []
    for cls in sorted(classes, key=lambda c: c.start_byte):
        owner = _text(cls.child_by_field_name("name"))
        for member in cls.child_by_field_name("body").named_children:
            if member.type != "method_declaration":
                continue
            modifiers = next((_text(c) for c in member.children if c.type == "modifiers"), "")
            comment = _doc_comment(member)
            name = _text(member.child_by_field_name("name"))
            if not comment or "private" in modifiers.split() or name.startswith("_"):
                continue
            doc = parse_javadoc(comment)
            params = []
            for p in member.child_by_field_name("parameters").named_children:
                if p.type == "formal_parameter":
                    ptype = _text(p.child_by_field_name("type"))
                    pname = _text(p.child_by_field_name("name"))
                    nullable = "@Nullable" in _text(p) or "Optional<" in ptype
                    if nullable:
                        doc.params.setdefault(pname, ParamDoc()).optional = True
                    params.append((pname, re.sub(r"^Optional<(.*)>$", r"\1", ptype), None))
            found.append(MinedFunction(
                name=f"{owner}_{name}", language="java", path=path, line=member.start_point[0] + 1,
                description=doc.summary, parameters=_schema(params, doc, enums), returns=doc.returns,
                runnable=False, symbol=name, param_order=[p[0] for p in params]))
    return found


_MINERS = {"python": _mine_python, "javascript": _mine_javascript, "java": _mine_java}


def mine_source(source: str | bytes, language: str, path: str = "<source>") -> list[MinedFunction]:
    """Documented public functions of one file; a file that does not parse yields what parsed."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    return _MINERS[language](data, path)


def mine_tree(root: str | Path, *, exclude: tuple[str, ...] = ("node_modules", ".git", ".venv", "__pycache__",
                                                                "build", "dist")) -> dict[str, list[MinedFunction]]:
    """Every supported file under ``root`` -> its mined functions (files with none are left out)."""
    base = Path(root)
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    out: dict[str, list[MinedFunction]] = {}
    for file in files:
        language = LANGUAGES.get(file.suffix)
        if language is None or any(part in exclude for part in file.parts):
            continue
        rel = str(file.relative_to(base)) if base.is_dir() else file.name
        functions = mine_source(file.read_bytes(), language, rel)
        if functions:
            out[rel] = functions
    return out


def items_from_tree(root: str | Path) -> list[dict[str, Any]]:
    """Source items for ``function_calling``: one per file, with its functions and (if any runs) its code."""
    base = Path(root)
    items = []
    for rel, functions in mine_tree(base).items():
        item: dict[str, Any] = {"id": rel, "path": rel, "language": functions[0].language,
                                "functions": [f.as_dict() for f in functions]}
        if any(f.runnable for f in functions):
            item["code"] = (base / rel if base.is_dir() else base).read_text(encoding="utf-8")
        items.append(item)
    return items


def main(argv: list[str] | None = None) -> int:
    import argparse

    import orjson

    parser = argparse.ArgumentParser(description="Mine documented functions into function_calling source items.")
    parser.add_argument("root")
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    lines = b"".join(orjson.dumps(item, option=orjson.OPT_SORT_KEYS) + b"\n" for item in items_from_tree(args.root))
    if args.out == "-":
        sys.stdout.buffer.write(lines)
    else:
        Path(args.out).write_bytes(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
