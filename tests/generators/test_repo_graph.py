"""The import graph: every import form on a fixture repository with a known graph, repositories read
from a folder, git, archives and rows, the graph of real installed packages checked edge for edge
against a second extraction on the standard library's ``ast``, and `synthgen repo-graph`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import networkx as nx
import pytest

from generators.repo import _prompts as P
from generators.repo._files import from_rows, load_repo
from generators.repo._js_imports import resolve_js
from generators.repo._py_ast import parse_python_ast
from generators.repo._py_imports import parse_python
from generators.repo.graph import build_graph, dependents, summary
from synthgen.errors import SourceError
from tests.generators import repo_fixture as F


@pytest.fixture
def shop(tmp_path) -> Path:
    return F.write(tmp_path / "shop")


def _edges(graph: nx.DiGraph) -> set[tuple[str, str, str]]:
    return {(a, b, d["kind"]) for a, b, d in graph.edges(data=True)}


def test_fixture_graph_is_exactly_the_known_graph(shop):
    graph, stats = build_graph(load_repo(shop))
    assert _edges(graph) == F.EDGES
    assert stats.unresolved_internal == 2  # shop.fastpath (in a try block) and './nope'
    assert stats.parse_errors == 1 and graph.nodes["broken.py"]["parse_error"]
    assert stats.cycles == 1  # models <-> util through the import inside clamp()
    assert graph.graph["roots"].split(",") == ["src", ""]
    assert stats.aliased_files >= 1  # src/shop/money.py is shop.money and src.shop.money
    assert graph.nodes["src/shop/compat.py"]["external"] == "json,ujson"
    assert set(graph.nodes["web/index.js"]["external"].split(",")) == {"react", "@scope/pkg"}


def test_skipped_files_are_reported_with_their_reason(shop):
    repo = load_repo(shop)
    assert not set(repo.files) & set(F.SKIPPED)
    assert repo.skipped == {
        "blob.py": "binary",
        "src/shop/messages_pb2.py": "generated",
        "node_modules/": "vendored",
        "vendor/": "vendored",
    }


def test_edges_keep_scope_guard_lines_and_names(shop):
    graph, _ = build_graph(load_repo(shop))
    e = graph.edges
    assert e["src/shop/util.py", "src/shop/models.py"]["scope"] == "function"
    assert e["src/shop/api/handlers.py", "src/shop/models.py"]["scope"] == "function"
    assert e["src/shop/typing_helpers.py", "src/shop/models.py"]["guard"] == "type_checking"
    assert e["src/shop/report.py", "src/shop/models.py"]["names"] == "Item"
    assert e["src/shop/report.py", "src/shop/util.py"]["names"] == "clamp"
    assert e["src/shop/models.py", "src/shop/util.py"] == {
        "kind": "relative",
        "line": 1,
        "count": 2,
        "lines": "1,2",
        "names": "slugify",
        "scope": "module",
        "guard": "",
    }
    assert "src/shop/typing_helpers.py" in dependents(graph, "src/shop/models.py")
    assert "src/shop/typing_helpers.py" not in dependents(graph, "src/shop/models.py", include_guarded=False)


def test_try_import_error_guard_and_if_guard():
    info = parse_python(
        "try:\n    import a\nexcept (ImportError, OSError):\n    import b\n"
        "try:\n    import c\nexcept ValueError:\n    pass\n"
        "if sys.version_info > (3,):\n    import d\nelse:\n    import e\n"
    )
    guards = {i.module: i.guard for i in info.imports}
    assert guards == {"a": "try", "b": "try", "c": None, "d": "if", "e": "if"}


def test_python_import_forms_are_read_exactly():
    info = parse_python(
        "import a.b as c, d\nfrom ...x.y import (p, q as r)\nfrom . import *\n"
        "from __future__ import annotations\ns = 'import fake'\n# import nothing\n"
    )
    assert [(i.module, i.level, i.names) for i in info.imports] == [
        ("a.b", 0, ()),
        ("d", 0, ()),
        ("x.y", 3, ("p", "q")),
        ("", 1, ("*",)),
    ]
    assert {"c", "d", "p", "r", "s"} <= info.defined


def test_js_specifiers_resolve_like_node_and_typescript():
    files = {"a/b.ts", "a/c/index.tsx", "a/d.js", "x.mjs"}
    assert resolve_js("./b", "a/main.js", files) == "a/b.ts"
    assert resolve_js("./b.js", "a/main.ts", files) == "a/b.ts"  # TS ESM style
    assert resolve_js("./c", "a/main.ts", files) == "a/c/index.tsx"
    assert resolve_js("../x.mjs", "a/main.js", files) == "x.mjs"
    assert resolve_js("lodash", "a/main.js", files) is None
    assert resolve_js("../../outside", "a/main.js", files) is None


def test_repositories_from_git_archives_and_rows(shop, tmp_path):
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(shop)]
    subprocess.run(["git", "init", "-q", str(shop)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    (shop / "src/shop/extra.py").write_text("from shop import util\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "two"], check=True)
    first = load_repo(shop, commit="HEAD~1")
    assert "src/shop/extra.py" not in first.files and "src/shop/models.py" in first.files
    assert "src/shop/extra.py" in load_repo(shop, commit="HEAD").files
    with pytest.raises(SourceError, match="cannot read commit"):
        load_repo(shop, commit="no-such-ref")

    tgz = tmp_path / "shop.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(shop, arcname="shop-1.0", filter=lambda t: None if "/.git" in t.name else t)
        evil = tarfile.TarInfo("../escape.py")
        data = b"import os\n"
        evil.size = len(data)
        tar.addfile(evil, io.BytesIO(data))
    from_tar = load_repo(tgz)
    assert "src/shop/models.py" in from_tar.files and not any("escape" in p for p in from_tar.files)
    archive = tmp_path / "shop.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(shop.rglob("*")):
            if path.is_file() and ".git" not in path.parts:
                zf.write(path, "shop/" + path.relative_to(shop).as_posix())
    assert set(load_repo(archive).files) == set(from_tar.files) - {"src/shop/extra.py"} | {
        "src/shop/extra.py"
    }
    rows = [{"path": p, "content": t} for p, t in from_tar.files.items()]
    graph, _ = build_graph(from_rows("rows", rows))
    assert _edges(graph) >= F.EDGES
    (tmp_path / "bad.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(SourceError, match="unreadable archive"):
        load_repo(tmp_path / "bad.tar.gz")
    with pytest.raises(SourceError, match="not found"):
        load_repo(tmp_path / "missing")


@pytest.mark.parametrize("package", ["rich", "httpx", "pydantic"])
def test_real_package_graph_matches_an_ast_walk_edge_for_edge(package):
    module = __import__(package)
    repo = load_repo(Path(module.__file__).parent)
    ours, stats = build_graph(repo)
    theirs, _ = build_graph(repo, python_parser=parse_python_ast)
    assert stats.parse_errors == 0 and stats.edges > 50
    assert set(ours.edges) == set(theirs.edges)
    assert _edges(ours) == _edges(theirs)


def test_real_package_known_facts():
    import httpx

    graph, _ = build_graph(load_repo(Path(httpx.__file__).parent))
    # httpx/_client.py imports its models and config modules
    assert {"_models.py", "_config.py"} <= set(graph.successors("_client.py"))
    assert len(dependents(graph, "_models.py")) >= 5


def test_cli_prints_a_summary_and_writes_graphml_and_json(shop, tmp_path):
    exe = [sys.executable, "-m", "synthgen.cli.main", "repo-graph"]
    out = subprocess.run(
        exe + [str(shop), "--json", "-o", str(tmp_path / "g.graphml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["files"] == 22 and info["edges"] == len(F.EDGES)
    assert info["most_depended_on"][0] == ["src/shop/models.py", 7]
    graph = nx.read_graphml(tmp_path / "g.graphml")
    assert graph.number_of_edges() == len(F.EDGES)
    out = subprocess.run(
        exe + [str(shop), "-o", str(tmp_path / "g.json")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "most depended-on files" in out.stdout
    assert len(json.loads((tmp_path / "g.json").read_text())["edges"]) == len(F.EDGES)
    bad = subprocess.run(exe + [str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "repository not found" in bad.stderr and "Traceback" not in bad.stderr


def test_answers_are_read_as_paths_module_names_and_code():
    known = {"src/shop/models.py", "src/shop/util.py", "src/shop/api/routes.py", "tests/test_models.py"}
    text = "The importers are:\n```\nsrc/shop/util.py\n./tests/test_models.py\nshop.api.routes\n```\n"
    assert P.read_paths(text, known) == ["src/shop/util.py", "tests/test_models.py", "src/shop/api/routes.py"]
    assert P.read_paths("- `util.py`\n- models.py and util.py again", known) == [
        "src/shop/util.py",
        "src/shop/models.py",
    ]
    assert P.read_paths("nothing here", known) == []
    assert P.read_code("Here:\n```python\nx = 1\n```\nand a note\n```\nshort\n```") == "x = 1\n"
    assert P.read_code("```js\nlet a\n```") is None
    assert P.read_code("x = 2\n") == "x = 2\n"
    assert P.read_code("```python\ndef f():\n    pass\n") == "def f():\n    pass\n"  # truncated fence


def test_summary_lists_most_depended_on_first(shop):
    graph, stats = build_graph(load_repo(shop))
    info = summary(graph, stats, top=2)
    assert info["most_depended_on"] == [("src/shop/models.py", 7), ("src/shop/util.py", 6)]
