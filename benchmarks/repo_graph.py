"""Import graphs of real installed packages: files and edges per second, and agreement with a second
extraction method.

For each package (its source folder in this environment) the graph is built twice from the same files
read into memory: with the tree-sitter reader (the default) and with the standard library's ``ast``
reader (``generators/repo/_py_ast.py``); both use the same resolution, so any difference in edges is
a difference in what the two parsers read. Timing covers parsing, resolution and the networkx graph,
not disk reads. The last line is tree-sitter's speed as a ratio of ``ast``'s, measured in the same run.
Run: ``.venv/bin/python benchmarks/repo_graph.py [--repeat 3] [--packages rich pydantic ...]``
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from generators.repo._files import load_repo
from generators.repo._py_ast import parse_python_ast
from generators.repo.graph import build_graph

DEFAULT_PACKAGES = ("rich", "pydantic", "httpx", "networkx", "transformers")


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="*", default=list(DEFAULT_PACKAGES))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    total_ts = total_ast = 0.0
    print(f"{'package':<14}{'files':>7}{'edges':>8}{'ts files/s':>12}{'ts edges/s':>12}"
          f"{'ast files/s':>13}{'same edges':>12}")
    for name in args.packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            print(f"{name:<14} not installed")
            continue
        repo = load_repo(Path(next(iter(spec.submodule_search_locations))))
        t_ts, (graph_ts, stats) = _best(lambda: build_graph(repo), args.repeat)
        t_ast, (graph_ast, _) = _best(lambda: build_graph(repo, python_parser=parse_python_ast), args.repeat)
        same = set(graph_ts.edges) == set(graph_ast.edges)
        diff = len(set(graph_ts.edges) ^ set(graph_ast.edges))
        rows.append((name, stats.files, stats.edges))
        total_ts += t_ts
        total_ast += t_ast
        print(f"{name:<14}{stats.files:>7}{stats.edges:>8}{stats.files / t_ts:>12.0f}{stats.edges / t_ts:>12.0f}"
              f"{stats.files / t_ast:>13.0f}{'yes' if same else f'no ({diff})':>12}")
    files = sum(r[1] for r in rows)
    edges = sum(r[2] for r in rows)
    print(f"all: {files} files, {edges} edges; tree-sitter {files / total_ts:.0f} files/s, "
          f"{edges / total_ts:.0f} edges/s; ast {files / total_ast:.0f} files/s")
    print(f"tree-sitter graph speed vs stdlib ast graph speed: {total_ast / total_ts:.2f}x")


if __name__ == "__main__":
    main()
