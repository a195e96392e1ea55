"""Python imports and top-level names, read with tree-sitter (a real parser, so strings, comments and
broken files never fool it; a file with syntax errors still yields the imports of its valid parts).

Each import says where it stands: ``scope`` (module, function or class body) and ``guard``
(``try`` for an ``try: import x / except ImportError`` fallback, ``type_checking`` for an
``if TYPE_CHECKING:`` block, ``if`` for other conditional imports, None when unconditional).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter as ts
import tree_sitter_python

_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")


@dataclass(frozen=True)
class PyImport:
    """``import a.b`` -> module 'a.b', names ();
    ``from ..a import b, c`` -> module 'a', level 2, names (b, c)."""

    module: str
    level: int = 0
    names: tuple[str, ...] = ()  # empty for `import x`; ('*',) for a wildcard
    line: int = 0
    scope: str = "module"  # module | function | class
    guard: str | None = None  # None | try | type_checking | if

    @property
    def is_from(self) -> bool:
        return bool(self.names)


@dataclass
class PyFileInfo:
    imports: list[PyImport] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)  # top-level functions, classes, assignments, imports
    all_names: list[str] | None = None  # `__all__` when it is a literal list/tuple of strings
    parse_error: bool = False


@lru_cache(maxsize=1)
def _parser() -> ts.Parser:
    return ts.Parser(ts.Language(tree_sitter_python.language()))


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", errors="replace") if node.text is not None else ""


def _context(node: ts.Node) -> tuple[str, str | None]:
    """(scope, guard) of an import from its ancestors, innermost first."""
    scope, guard = "module", None
    child, parent = node, node.parent
    while parent is not None:
        kind = parent.type
        if kind == "function_definition" and scope == "module":
            scope = "function"
        elif kind == "class_definition" and scope == "module":
            scope = "class"
        elif guard is None and kind == "try_statement":
            handlers = [c for c in parent.children if c.type == "except_clause"]
            if any(any(e in _text(h).split(":", 1)[0] for e in _IMPORT_ERRORS) for h in handlers):
                guard = "try"
        elif guard is None and kind in ("if_statement", "elif_clause", "else_clause"):
            condition = parent.child_by_field_name("condition")
            if_node = parent if kind != "else_clause" else parent.parent
            cond_text = (
                _text(condition)
                if condition is not None
                else (
                    _text(if_node.child_by_field_name("condition"))
                    if if_node is not None and if_node.child_by_field_name("condition") is not None
                    else ""
                )
            )
            guard = "type_checking" if "TYPE_CHECKING" in cond_text else "if"
        child, parent = parent, parent.parent
    del child
    return scope, guard


def _dotted(node: ts.Node | None) -> str:
    return _text(node).replace(" ", "") if node is not None else ""


def _imported_name(node: ts.Node) -> tuple[str, str]:
    """(imported name, bound name) of a `dotted_name` or `aliased_import` child."""
    if node.type == "aliased_import":
        name = _dotted(node.child_by_field_name("name"))
        alias = _text(node.child_by_field_name("alias")) or name
        return name, alias
    name = _dotted(node)
    return name, name


def parse_python(source: str) -> PyFileInfo:
    data = source.encode("utf-8")
    tree = _parser().parse(data)
    root = tree.root_node
    info = PyFileInfo(parse_error=root.has_error)
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind == "import_statement":
            scope, guard = _context(node)
            for child in node.children_by_field_name("name"):
                name, bound = _imported_name(child)
                info.imports.append(PyImport(name, 0, (), node.start_point[0] + 1, scope, guard))
                if scope == "module":
                    info.defined.add(bound.split(".")[0] if child.type != "aliased_import" else bound)
        elif kind == "import_from_statement":
            scope, guard = _context(node)
            module_node = node.child_by_field_name("module_name")
            level, module = 0, ""
            if module_node is not None and module_node.type == "relative_import":
                for c in module_node.children:
                    if c.type == "import_prefix":
                        level = _text(c).count(".")
                    elif c.type == "dotted_name":
                        module = _dotted(c)
            else:
                module = _dotted(module_node)
            if any(c.type == "wildcard_import" for c in node.children):
                names: tuple[str, ...] = ("*",)
            else:
                pairs = [_imported_name(c) for c in node.children_by_field_name("name")]
                names = tuple(p[0] for p in pairs)
                if scope == "module":
                    info.defined.update(p[1] for p in pairs)
            if names:
                info.imports.append(PyImport(module, level, names, node.start_point[0] + 1, scope, guard))
        elif kind in ("function_definition", "class_definition"):
            if _is_top_level(node):
                name = node.child_by_field_name("name")
                if name is not None:
                    info.defined.add(_text(name))
            stack.extend(reversed(node.children))
        elif kind in ("assignment", "augmented_assignment") and _is_top_level(node):
            left = node.child_by_field_name("left")
            for name in _target_names(left):
                info.defined.add(name)
                if name == "__all__":
                    info.all_names = _string_list(node.child_by_field_name("right"))
            stack.extend(reversed(node.children))
        elif kind == "future_import_statement":
            continue
        else:
            stack.extend(reversed(node.children))
    info.imports.sort(key=lambda i: i.line)
    return info


def _is_top_level(node: ts.Node) -> bool:
    """Directly in the module, or in module-level if/try/with blocks (conditional definitions count)."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("function_definition", "class_definition", "lambda"):
            return False
        if parent.type == "module":
            return True
        parent = parent.parent
    return False


def _target_names(node: ts.Node | None) -> list[str]:
    if node is None:
        return []
    if node.type == "identifier":
        return [_text(node)]
    if node.type in ("pattern_list", "tuple_pattern", "list_pattern", "expression_list"):
        return [n for c in node.children for n in _target_names(c)]
    return []


def _string_list(node: ts.Node | None) -> list[str] | None:
    if node is None or node.type not in ("list", "tuple", "expression_list"):
        return None
    out = []
    for child in node.children:
        if child.type == "string":
            parts = [c for c in child.children if c.type == "string_content"]
            if any(c.type == "interpolation" for c in child.children):
                return None
            out.append("".join(_text(c) for c in parts))
        elif child.type not in (",", "[", "]", "(", ")", "comment"):
            return None
    return out
