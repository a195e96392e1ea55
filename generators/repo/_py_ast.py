"""A second reader of Python imports, on the standard library's ``ast``: the cross-check of the
tree-sitter reader (``_py_imports``). It fails on files with syntax errors (tree-sitter does not) and
does not mark guards; for valid files the graph built from either reader must be the same, edge for
edge (``tests/generators/test_repo_graph.py``, ``benchmarks/repo_graph.py``)."""

from __future__ import annotations

import ast

from generators.repo._py_imports import PyFileInfo, PyImport


class _AstImports(ast.NodeVisitor):
    """The second method: the standard library's parser, with the scope of each import."""

    def __init__(self) -> None:
        self.info, self.scope = PyFileInfo(), ["module"]

    def _nested(self, node: ast.AST, scope: str) -> None:
        self.scope.append(scope)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node):
        self._nested(node, "function")

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._nested(node, "class" if self.scope[-1] == "module" else self.scope[-1])

    def visit_Import(self, node):
        scope = self._outer()
        self.info.imports += [PyImport(a.name, 0, (), node.lineno, scope) for a in node.names]

    def visit_ImportFrom(self, node):
        if node.module != "__future__":
            self.info.imports.append(
                PyImport(
                    node.module or "",
                    node.level,
                    tuple(a.name for a in node.names),
                    node.lineno,
                    self._outer(),
                )
            )

    def _outer(self) -> str:
        return next((s for s in self.scope[1:] if s != "module"), "module")


def parse_python_ast(source: str) -> PyFileInfo:
    tree = ast.parse(source)
    visitor = _AstImports()
    visitor.visit(tree)
    info = visitor.info
    stack = list(tree.body)  # module-level names, also inside module-level if/try blocks
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            info.defined.add(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    info.defined.add(t.id)
                    if t.id == "__all__" and isinstance(node.value, (ast.List, ast.Tuple)):
                        info.all_names = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            info.defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.If, ast.Try)):
            stack += (
                node.body
                + node.orelse
                + getattr(node, "finalbody", [])
                + [s for h in getattr(node, "handlers", []) for s in h.body]
            )
    info.imports.sort(key=lambda i: i.line)
    return info
