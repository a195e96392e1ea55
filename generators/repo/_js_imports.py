"""JavaScript / TypeScript imports read with tree-sitter: ``import ... from``, side-effect ``import``,
``export ... from``, ``require()``, dynamic ``import()``; specifiers resolved to repository files the
way bundlers and Node do (extensions, ``index`` files); bare specifiers are external packages."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter as ts
import tree_sitter_javascript
import tree_sitter_typescript

JS_SUFFIXES = (".js", ".jsx", ".mjs", ".cjs")
TS_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
_RESOLVE_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")


@dataclass(frozen=True)
class JsImport:
    specifier: str
    line: int
    kind: str  # import | export_from | require | dynamic_import
    names: tuple[str, ...] = ()


@lru_cache(maxsize=3)
def _parser(kind: str) -> ts.Parser:
    if kind == "tsx":
        lang = tree_sitter_typescript.language_tsx()
    elif kind == "ts":
        lang = tree_sitter_typescript.language_typescript()
    else:
        lang = tree_sitter_javascript.language()
    return ts.Parser(ts.Language(lang))


def _string_value(node: ts.Node | None) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    if node.type == "template_string" and any(c.type == "template_substitution" for c in node.children):
        return None  # a computed path cannot be resolved statically
    return node.text.decode("utf-8", errors="replace")[1:-1] if node.text else None


def parse_js(source: str, path: str) -> tuple[list[JsImport], bool]:
    """(imports, parse error?) of one JS/TS file."""
    kind = "tsx" if path.endswith(".tsx") else "ts" if path.endswith(TS_SUFFIXES) else "js"
    root = _parser(kind).parse(source.encode("utf-8")).root_node
    found: list[JsImport] = []
    stack = [root]
    while stack:
        node = stack.pop()
        t = node.type
        if t in ("import_statement", "export_statement"):
            spec = _string_value(node.child_by_field_name("source"))
            if spec is not None:
                names = tuple(
                    n.text.decode()
                    for n in _walk(node)
                    if n.type in ("import_specifier", "export_specifier") and n.text
                )
                found.append(
                    JsImport(
                        spec,
                        node.start_point[0] + 1,
                        "import" if t == "import_statement" else "export_from",
                        names,
                    )
                )
                continue
        elif t == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and args is not None and args.named_child_count >= 1:
                callee = fn.type if fn.type == "import" else (fn.text.decode() if fn.text else "")
                if callee in ("require", "import"):
                    spec = _string_value(args.named_children[0])
                    if spec is not None:
                        found.append(
                            JsImport(
                                spec,
                                node.start_point[0] + 1,
                                "require" if callee == "require" else "dynamic_import",
                            )
                        )
        stack.extend(reversed(node.children))
    found.sort(key=lambda i: i.line)
    return found, root.has_error


def _walk(node: ts.Node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def resolve_js(specifier: str, importer: str, files: set[str]) -> str | None:
    """The repository file a relative specifier names, or None (external package or missing file)."""
    if not specifier.startswith((".", "/")):
        return None
    spec = specifier.split("?", 1)[0].split("#", 1)[0]
    base = (
        posixpath.normpath(posixpath.join(posixpath.dirname(importer), spec))
        if spec.startswith(".")
        else posixpath.normpath(spec.lstrip("/"))
    )
    if base.startswith(".."):
        return None
    candidates = [base]
    # TypeScript's ESM style names the emitted .js file: './a.js' means './a.ts' in the source tree.
    stem, ext = posixpath.splitext(base)
    if ext in (".js", ".mjs", ".cjs", ".jsx"):
        candidates += [stem + s for s in (".ts", ".tsx", ".mts", ".cts")]
    candidates += [base + s for s in _RESOLVE_SUFFIXES]
    candidates += [posixpath.join(base, "index" + s) for s in _RESOLVE_SUFFIXES]
    for cand in candidates:
        if cand in files:
            return cand
    return None
