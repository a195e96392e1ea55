"""The import graph of a repository: a ``networkx.DiGraph`` whose nodes are the repository's source
files and whose edges point from an importing file to the file it imports.

Usable on its own (``synthgen repo-graph DIR``) and by the ``repo_deps`` generator.

Python (parsed with tree-sitter, see ``_py_imports``): ``import a.b`` is an edge to ``a/b.py`` (or
``a/b/__init__.py``); ``from a import b`` is an edge to ``a/b.py`` when ``b`` is a submodule, else to
``a``'s own file; relative imports resolve against the importing file's package at any depth.
Modules are named from every source root: the repository root, ``src/``, and the folder above each
top-level package (a folder with ``__init__.py`` whose parent has none); folders without
``__init__.py`` are namespace packages. An absolute import no root resolves is tried against the
importing file's own folder when that folder is not a package (scripts and tests import their
siblings this way, kind ``sibling``);
what still does not resolve is an external package (kept on the node, not an edge), or, when its
first name is one of the repository's own packages, an unresolved internal import (counted).
A name that an ``__init__.py`` re-exports from a submodule (``from .sub import Name`` or
``from .sub import *``) adds a second edge, kind ``reexport``, from the importer to the submodule
that defines it, so "who depends on sub.py" includes files that import it through the package.
Imports keep their place: ``scope`` (module/function/class) and ``guard`` (try/type_checking/if).

JavaScript/TypeScript: relative specifiers resolved with extensions and ``index`` files; bare
specifiers are external.

Parallel edges between two files are merged into one edge with ``count`` and ``lines``; ``names``
lists the attributes imported from the target (``from m import a, b``), never submodule names.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from generators.repo._files import RepoFiles
from generators.repo._js_imports import JS_SUFFIXES, TS_SUFFIXES, parse_js, resolve_js
from generators.repo._py_imports import PyFileInfo, PyImport, parse_python

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class PyIndex:
    """Dotted module names of the repository's Python files, from every source root."""

    files: set[str]
    roots: list[str]
    modules: dict[str, str] = field(default_factory=dict)  # dotted name -> file
    packages: set[str] = field(default_factory=set)  # dotted names of package folders (incl. namespace)
    names_of: dict[str, list[str]] = field(default_factory=dict)  # file -> its dotted names

    @classmethod
    def build(cls, files: set[str], root_package: str | None = None) -> PyIndex:
        """``root_package``: the import name of the repository folder itself when it is a package (a
        package directory read on its own, ``site-packages/rich``: its files are ``rich.*``)."""
        py = sorted(f for f in files if f.endswith((".py", ".pyi")))
        inits = {posixpath.dirname(f) for f in py if posixpath.basename(f) in ("__init__.py", "__init__.pyi")}
        roots = []
        for d in sorted(inits, key=lambda x: (x.count("/"), x)):
            parent = posixpath.dirname(d)
            if parent not in inits and parent not in roots:
                roots.append(parent)
        if any(f.startswith("src/") for f in py) and "src" not in roots:
            roots.append("src")
        if "" not in roots:
            roots.append("")
        # package roots first (src/pkg is imported as pkg), the repository root last
        roots.sort(key=lambda r: (r == "", -r.count("/") if r else 0))
        index = cls(set(files), roots)
        for root in roots:
            prefix = root + "/" if root else ""
            for f in py:
                if not f.startswith(prefix):
                    continue
                parts = f[len(prefix) :].rsplit(".", 1)[0].split("/")
                if root == "" and root_package:
                    parts = [root_package] + parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                if not parts or not all(_IDENT.match(p) for p in parts):
                    continue
                for i in range(1, len(parts)):
                    index.packages.add(".".join(parts[:i]))
                name = ".".join(parts)
                if f.endswith(".pyi") and name in index.modules:
                    continue  # the .py is the module; a stub beside it is not a second one
                if name not in index.modules:
                    index.modules[name] = f
                    index.names_of.setdefault(f, []).append(name)
        return index

    def top_level(self) -> set[str]:
        return {n.split(".")[0] for n in self.modules} | {p.split(".")[0] for p in self.packages}


@dataclass
class GraphStats:
    files: int = 0
    edges: int = 0
    python_files: int = 0
    js_files: int = 0
    parse_errors: int = 0
    external_imports: int = 0
    unresolved_internal: int = 0
    edge_kinds: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    cycles: int = 0  # strongly connected components with more than one file
    aliased_files: int = 0  # files importable under more than one dotted name


def _package_of(path: str) -> list[str]:
    """Folder parts of the package a file belongs to (its own folder)."""
    d = posixpath.dirname(path)
    return d.split("/") if d else []


def _resolve_path_module(parts: list[str], files: set[str]) -> str | None:
    base = "/".join(parts)
    for cand in (base + ".py", base + "/__init__.py", base + ".pyi", base + "/__init__.pyi"):
        if cand.lstrip("/") in files:
            return cand.lstrip("/")
    return None


def _is_dir(parts: list[str], files: set[str]) -> bool:
    prefix = "/".join(parts) + "/"
    return any(f.startswith(prefix) for f in files)


class _PyResolver:
    def __init__(self, index: PyIndex, infos: dict[str, PyFileInfo]) -> None:
        self.index, self.infos = index, infos
        self.own_top = index.top_level()

    def module_file(self, name: str) -> str | None:
        return self.index.modules.get(name)

    def resolve(
        self, importer: str, imp: PyImport
    ) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None]:
        """([(target file, kind, names)], external top-level name or 'unresolved:<name>' or None)."""
        if imp.level:
            return self._relative(importer, imp)
        out = self._absolute(imp, self.module_file, kind_prefix="")
        if out:
            return out, None
        # scripts and tests outside any package import the modules beside them (their folder is on
        # sys.path); inside a package that is no longer Python (no implicit relative imports)
        sibling = _package_of(importer)
        in_package = _resolve_path_module(sibling + ["__init__"], self.index.files) is not None
        out = (
            []
            if in_package
            else self._absolute(
                imp,
                lambda n: _resolve_path_module(sibling + n.split("."), self.index.files),
                kind_prefix="sibling",
            )
        )
        if out:
            return out, None
        top = imp.module.split(".")[0]
        return [], (f"unresolved:{imp.module}" if top in self.own_top else top)

    def _absolute(self, imp: PyImport, lookup, *, kind_prefix: str) -> list[tuple[str, str, tuple[str, ...]]]:
        if not imp.names:
            target = lookup(imp.module)
            if target is None:
                return []
            return [(target, kind_prefix or "import", ())]
        module_file = lookup(imp.module)
        edges: list[tuple[str, str, tuple[str, ...]]] = []
        name_hits: list[str] = []
        for name in imp.names:
            sub = lookup(f"{imp.module}.{name}") if name != "*" else None
            if sub is not None:  # the name is the module itself: no attribute of it is required
                edges.append((sub, kind_prefix or "from_module", ()))
            else:
                name_hits.append(name)
        if name_hits:
            if module_file is None:
                if not edges:
                    return []
            else:
                edges.append((module_file, kind_prefix or "from_name", tuple(name_hits)))
                edges += self._reexports(module_file, name_hits)
        return edges

    def _relative(
        self, importer: str, imp: PyImport
    ) -> tuple[list[tuple[str, str, tuple[str, ...]]], str | None]:
        package = _package_of(importer)
        up = imp.level - 1
        if up > len(package):
            return [], f"unresolved:{'.' * imp.level}{imp.module}"
        base = package[: len(package) - up] if up else package
        parts = base + (imp.module.split(".") if imp.module else [])
        lookup = lambda name: _resolve_path_module(base + name.split("."), self.index.files)
        if imp.names:
            edges: list[tuple[str, str, tuple[str, ...]]] = []
            module_file = _resolve_path_module(parts, self.index.files)
            rest = []
            for name in imp.names:
                sub = _resolve_path_module(parts + [name], self.index.files) if name != "*" else None
                if sub is not None:
                    edges.append((sub, "relative", ()))
                else:
                    rest.append(name)
            if rest and module_file is not None:
                edges.append((module_file, "relative", tuple(rest)))
                edges += self._reexports(module_file, rest)
            if edges:
                return edges, None
            if rest and module_file is None and not _is_dir(parts, self.index.files):
                return [], f"unresolved:{'.' * imp.level}{imp.module}"
            return [], None
        target = lookup(imp.module) if imp.module else None
        return ([(target, "relative", ())] if target else []), None

    def module_target(self, importer: str, imp: PyImport) -> str | None:
        """The file of the module part of an import (``a.b`` of ``from a.b import c``), or None."""
        if not imp.level:
            return self.module_file(imp.module)
        package = _package_of(importer)
        up = imp.level - 1
        if up > len(package):
            return None
        base = package[: len(package) - up] if up else package
        return _resolve_path_module(base + (imp.module.split(".") if imp.module else []), self.index.files)

    def _reexports(self, package_file: str, names: list[str]) -> list[tuple[str, str, tuple[str, ...]]]:
        """Edges to the submodules a package's ``__init__`` takes the given names from."""
        info = self.infos.get(package_file)
        if info is None or not posixpath.basename(package_file).startswith("__init__."):
            return []
        wanted = set(names) - {"*"}
        out = []
        for imp in info.imports:
            if imp.scope != "module" or not imp.names:
                continue
            target = self.module_target(package_file, imp)
            if target is None or target == package_file:
                continue
            if imp.names == ("*",):
                source = self.infos.get(target)
                exported = (
                    set(source.all_names or {n for n in source.defined if not n.startswith("_")})
                    if source
                    else set()
                )
                hit = wanted & exported
            else:
                hit = wanted & set(imp.names)
            if hit:
                out.append((target, "reexport", tuple(sorted(hit))))
        return out


def build_graph(repo: RepoFiles, *, python_parser=parse_python) -> tuple[nx.DiGraph, GraphStats]:
    """The import graph of a repository's source files, and counts of what was found.

    ``python_parser`` reads one Python file into a :class:`PyFileInfo` (tree-sitter by default; the
    tests pass a parser on the standard library's ``ast`` to cross-check the extraction)."""
    files = set(repo.files)
    graph = nx.DiGraph(name=repo.name)
    stats = GraphStats(skipped=repo.skipped_counts())
    infos: dict[str, PyFileInfo] = {}
    for path in sorted(files):
        lang = (
            "python"
            if path.endswith((".py", ".pyi"))
            else "typescript"
            if path.endswith(TS_SUFFIXES)
            else "javascript"
        )
        graph.add_node(
            path, language=lang, parse_error=False, external="", lines=repo.files[path].count("\n") + 1
        )
        if lang == "python":
            infos[path] = python_parser(repo.files[path])
            graph.nodes[path]["parse_error"] = infos[path].parse_error
    root_package = repo.name.split("@")[0].split("-")[0] if "__init__.py" in files else None
    if root_package is not None and not _IDENT.match(root_package):
        root_package = None
    index = PyIndex.build(files, root_package)
    resolver = _PyResolver(index, infos)
    external: dict[str, set[str]] = {}

    def add_edge(
        src: str, dst: str, kind: str, line: int, names: tuple[str, ...], scope: str, guard: str | None
    ):
        if src == dst:
            return
        data = graph.get_edge_data(src, dst)
        if data is None:
            graph.add_edge(
                src,
                dst,
                kind=kind,
                line=line,
                count=1,
                lines=str(line),
                names=",".join(names),
                scope=scope,
                guard=guard or "",
            )
        else:
            data["count"] += 1
            data["lines"] += f",{line}"
            if names:
                data["names"] = ",".join(sorted(set(filter(None, data["names"].split(","))) | set(names)))
            if data["guard"] and not guard:
                data["guard"] = ""  # an unconditional import anywhere makes the dependency unconditional
            if data["scope"] != "module" and scope == "module":
                data["scope"] = "module"
        stats.edge_kinds[kind] = stats.edge_kinds.get(kind, 0) + 1

    for path in sorted(files):
        if path in infos:
            stats.python_files += 1
            for imp in infos[path].imports:
                edges, ext = resolver.resolve(path, imp)
                for target, kind, names in edges:
                    add_edge(path, target, kind, imp.line, names, imp.scope, imp.guard)
                if ext is not None:
                    if ext.startswith("unresolved:"):
                        stats.unresolved_internal += 1
                    else:
                        external.setdefault(path, set()).add(ext)
        elif path.endswith(JS_SUFFIXES + TS_SUFFIXES):
            stats.js_files += 1
            imports, error = parse_js(repo.files[path], path)
            graph.nodes[path]["parse_error"] = error
            for imp in imports:
                target = resolve_js(imp.specifier, path, files)
                if target is not None:
                    add_edge(path, target, imp.kind, imp.line, imp.names, "module", None)
                elif imp.specifier.startswith((".", "/")):
                    stats.unresolved_internal += 1
                else:
                    parts = imp.specifier.split("/")
                    external.setdefault(path, set()).add(
                        "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
                    )
    for path, names in external.items():
        graph.nodes[path]["external"] = ",".join(sorted(names))
    stats.external_imports = sum(len(v) for v in external.values())
    stats.files = graph.number_of_nodes()
    stats.edges = graph.number_of_edges()
    stats.parse_errors = sum(1 for _, d in graph.nodes(data=True) if d["parse_error"])
    stats.cycles = sum(1 for c in nx.strongly_connected_components(graph) if len(c) > 1)
    stats.aliased_files = sum(1 for names in index.names_of.values() if len(names) > 1)
    graph.graph["roots"] = ",".join(index.roots)
    graph.graph["root_package"] = root_package or ""
    return graph, stats


def dependents(graph: nx.DiGraph, path: str, *, include_guarded: bool = True) -> set[str]:
    """Files that import ``path`` directly."""
    return {src for src in graph.predecessors(path) if include_guarded or not graph.edges[src, path]["guard"]}


def most_depended_on(graph: nx.DiGraph, top: int = 10) -> list[tuple[str, int]]:
    counts = Counter({n: graph.in_degree(n) for n in graph.nodes})
    return [(n, c) for n, c in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:top] if c > 0]


def write_graph(graph: nx.DiGraph, path: str | Path) -> None:
    """GraphML for ``.graphml``, node-link JSON otherwise."""
    path = Path(path)
    if path.suffix.lower() == ".graphml":
        nx.write_graphml(graph, path)
    else:
        path.write_text(json.dumps(nx.node_link_data(graph, edges="edges"), indent=1, sort_keys=True))


def summary(graph: nx.DiGraph, stats: GraphStats, top: int = 10) -> dict[str, Any]:
    return {
        "files": stats.files,
        "edges": stats.edges,
        "python_files": stats.python_files,
        "js_files": stats.js_files,
        "parse_errors": stats.parse_errors,
        "external_imports": stats.external_imports,
        "unresolved_internal": stats.unresolved_internal,
        "import_cycles": stats.cycles,
        "aliased_files": stats.aliased_files,
        "edge_kinds": dict(sorted(stats.edge_kinds.items())),
        "skipped": stats.skipped,
        "most_depended_on": most_depended_on(graph, top),
    }
