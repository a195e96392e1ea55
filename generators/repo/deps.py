"""``repo_deps``: repository reasoning tasks from import graphs (Llama 3, "Repository reasoning").

A source item names a repository (a directory, a git repository at ``commit``, a ``.tar.gz``/``.zip``,
or ``files`` rows of ``{path, content}``). The generator builds its import graph
(:mod:`generators.repo.graph`), picks files that at least ``min_dependents`` other files import,
removes one, and shows the model the rest of the repository within ``token_budget``: the removed
file's dependents first, then their other neighbours, then everything else by graph distance.
Two tasks per removed file (``tasks``):

- ``dependents``: which files imported the removed one? Checked by precision/recall/F1 against the
  graph (``repo_deps`` verifier).
- ``missing_file``: write the removed file. Before asking, the generator runs the repository's own
  tests on the original in the sandbox (when the repository has tests); if they pass, the written
  file is checked by the same tests; otherwise by importing the dependents, when that works on the
  original; otherwise statically (it parses and defines every name the dependents import from it).
  The original is the reference; the verifier records the similarity.

Nothing usable is never silent: a repository without a file above the threshold, or one that cannot
be read, becomes a failed record with the reason. Relative repository paths resolve against the
pipeline file's folder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import posixpath
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.repo import _prompts as P
from generators.repo._files import RepoFiles, from_rows, load_repo
from generators.repo.graph import GraphStats, build_graph, dependents, summary
from synthgen.context import Context
from synthgen.errors import SourceError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Message, Record, content_hash, failed_record
from verifiers.repo_deps import import_command, sandbox_request, tests_ran

TEST_FILE_HINTS = ("test_", "_test.py", "tests/", "test/")
AUTO_TEST_COMMAND = (
    "if python3 -c 'import pytest' 2>/dev/null; then python3 -m pytest -q -x -p no:cacheprovider; "
    "else python3 -m unittest discover -s tests -t . 2>&1 || python3 -m unittest discover 2>&1; fi"
)


class RepoItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    repo: str | None = Field(None, description="directory, git repository or .tar.gz/.zip archive")
    commit: str | None = Field(None, description="with a git repository: the commit (or tag, branch) to read")
    name: str | None = None
    files: list[dict[str, Any]] | None = Field(None, description="the repository as {path, content} rows")
    package: str | None = Field(None, description="an installed Python package: its source folder on disk")

    @model_validator(mode="after")
    def _one_source(self) -> RepoItem:
        if sum(x is not None for x in (self.repo, self.files, self.package)) != 1:
            raise ValueError(
                "give exactly one of `repo` (a path), `files` ({path, content} rows) or `package`"
            )
        return self


class RepoDepsConfig(PluginConfig):
    min_dependents: int = Field(5, ge=1, description="the paper: files imported by at least five other files")
    max_targets: int = Field(3, ge=1, description="removed files per repository (drawn by the item seed)")
    tasks: list[Literal["dependents", "missing_file"]] = Field(
        default_factory=lambda: ["dependents", "missing_file"]
    )
    languages: list[Literal["python", "javascript", "typescript"]] = Field(
        default_factory=lambda: ["python"], description="languages of the files that may be removed"
    )
    include_init: bool = Field(False, description="allow removing a package's __init__.py")
    include_guarded: bool = Field(
        True, description="imports under try/except ImportError or TYPE_CHECKING count"
    )
    token_budget: int = Field(12000, ge=256, description="tokens of repository shown in the prompt")
    tokenizer: str | None = Field(
        "policy",
        description="counts the budget: 'policy' (the policy model's own tokenizer when its backend "
        "has one, e.g. transformers), a local tokenizer path, or null for ~chars_per_token",
    )
    chars_per_token: float = Field(3.5, gt=0)
    k: int = Field(4, ge=1, le=256, description="answers sampled per task")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(2048, ge=1)
    system_prompt: str | None = "You are an expert software engineer who reads whole repositories carefully."
    run_tests: bool = Field(True, description="use the repository's own tests when they pass on the original")
    test_command: str = Field(
        "auto", description="auto: pytest when the sandbox has it, else unittest discovery of tests/"
    )
    import_check: bool = Field(True, description="else import the dependents in the sandbox")
    check_time_limit_s: float = Field(60.0, gt=0)
    max_sandbox_bytes: int = Field(4 << 20, ge=1024, description="repository bytes sent to the sandbox")


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class RepoDepsGenerator(Generator):
    name: ClassVar[str] = "repo_deps"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "repo"
    Config: ClassVar[type[BaseModel]] = RepoDepsConfig
    Item: ClassVar[type[BaseModel]] = RepoItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    def _counter(self, ctx: Context):
        """A function text -> tokens for the budget (see the ``tokenizer`` option)."""
        name = self.config.tokenizer
        tokenizer = None
        if name == "policy":
            tokenizer = getattr(getattr(ctx.llm.get("policy"), "backend", None), "tokenizer", None)
        elif name:
            tokenizer = _load_tokenizer(name)
        if tokenizer is None:
            return lambda text: int(len(text) / self.config.chars_per_token) + 1
        return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _load(self, item: RepoItem, ctx: Context) -> RepoFiles:
        if item.files is not None:
            return from_rows(item.name or item.id or "repo", item.files)
        if item.package is not None:
            spec = importlib.util.find_spec(item.package)
            if spec is None or not spec.submodule_search_locations:
                raise SourceError(f"`package: {item.package}` is not an installed Python package")
            return load_repo(Path(list(spec.submodule_search_locations)[0]))
        path = ctx.resolve_path(item.repo)
        repo = load_repo(path, commit=item.commit)
        if item.name:
            repo.name = item.name
        return repo

    async def generate(self, item: RepoItem, ctx: Context) -> list[Record]:
        cfg = self.config
        item_id = item.id or content_hash(item.repo, item.package, item.commit, item.name, item.files)
        try:
            repo = await asyncio.to_thread(self._load, item, ctx)
        except Exception as exc:  # noqa: BLE001 - an unreadable repository is this item's recorded failure
            return [self._failed(item_id, ctx, f"cannot read the repository: {exc}")]
        graph, stats = await asyncio.to_thread(build_graph, repo)
        targets = self._targets(graph)
        if not targets:
            best = max(((n, graph.in_degree(n)) for n in graph.nodes), key=lambda x: x[1], default=(None, 0))
            return [
                self._failed(
                    item_id,
                    ctx,
                    f"no file is imported by at least {cfg.min_dependents} files "
                    f"(most: {best[1]}{f', {best[0]}' if best[0] else ''}; "
                    f"{stats.files} files, {stats.edges} edges)",
                    stats=stats,
                )
            ]
        chosen = sorted(ctx.rng.sample(targets, min(cfg.max_targets, len(targets))))
        count = self._counter(ctx)
        baseline = await self._baseline(repo, graph, ctx) if "missing_file" in cfg.tasks else {}
        records = []
        for removed in chosen:
            context = await asyncio.to_thread(self._context, repo, graph, removed, count)
            for task in cfg.tasks:
                records.append(
                    await self._task(item_id, repo, graph, stats, removed, task, context, baseline, ctx)
                )
        return records

    def _failed(self, item_id: str, ctx: Context, error: str, stats: GraphStats | None = None) -> Record:
        record = failed_record(
            content_hash(self.name, "failed", item_id),
            source_id=item_id,
            capability=self.capability,
            error=error,
            provenance=ctx.provenance(parents=[item_id]),
        )
        if stats is not None:
            record.metadata["graph"] = {"files": stats.files, "edges": stats.edges, "skipped": stats.skipped}
        return record

    def _targets(self, graph: nx.DiGraph) -> list[str]:
        cfg = self.config
        out = []
        for node, data in graph.nodes(data=True):
            if data["language"] not in cfg.languages:
                continue
            if not cfg.include_init and posixpath.basename(node).startswith("__init__."):
                continue
            if len(dependents(graph, node, include_guarded=cfg.include_guarded)) >= cfg.min_dependents:
                out.append(node)
        return sorted(out)

    def _context(self, repo: RepoFiles, graph: nx.DiGraph, removed: str, count) -> list[tuple[str, str]]:
        """Files shown to the model, within the budget: dependents, their neighbours, then by distance."""
        deps = sorted(dependents(graph, removed))
        undirected = graph.to_undirected(as_view=True)
        distance = nx.single_source_shortest_path_length(undirected, removed)
        neighbours = sorted({n for d in deps for n in nx.all_neighbors(graph, d)} - set(deps) - {removed})
        rest = sorted(
            (n for n in graph.nodes if n not in distance or distance[n] > 1),
            key=lambda n: (distance.get(n, 10**6), n),
        )
        order: list[str] = []
        for n in deps + neighbours + rest:
            if n != removed and n not in order:
                order.append(n)
        budget = self.config.token_budget - count(P.render_context(repo.name, [], removed)) - 200
        shown: list[tuple[str, str]] = []
        for path in order:
            cost = count(f"### {path}\n```\n{repo.files[path]}\n```\n") + 2
            if cost <= budget:
                shown.append((path, repo.files[path]))
                budget -= cost
        return sorted(shown)

    async def _baseline(self, repo: RepoFiles, graph: nx.DiGraph, ctx: Context) -> dict[str, Any]:
        """How written files will be checked: tests that pass on the original, else an import check."""
        cfg = self.config
        # a package folder read on its own (site-packages/httpx) goes back under its name to be importable
        prefix = graph.graph["root_package"] + "/" if graph.graph.get("root_package") else ""
        files = {prefix + p: t for p, t in repo.files.items() if p.endswith((".py", ".pyi"))}
        size = sum(len(t.encode()) for t in files.values())
        if ctx.run.sandbox is None:
            return {"check": "static", "why": "no sandbox in the pipeline"}
        if size > cfg.max_sandbox_bytes:
            return {"check": "static", "why": f"repository is {size} bytes > max_sandbox_bytes"}
        roots = graph.graph.get("roots", "").split(",")
        result_info: dict[str, Any] = {"files": files, "roots": roots, "prefix": prefix}
        has_tests = any(any(h in p for h in TEST_FILE_HINTS) for p in files)
        if cfg.run_tests and has_tests:
            pythonpath = ":".join(r or "." for r in roots)
            test_command = AUTO_TEST_COMMAND if cfg.test_command == "auto" else cfg.test_command
            command = f"export PYTHONPATH={pythonpath}; {test_command}"
            run = await ctx.sandbox.run(
                sandbox_request(files, command, time_limit_s=cfg.check_time_limit_s, memory_mb=1024)
            )
            ran = tests_ran(run.stdout_text + "\n" + run.stderr_text)
            if run.ok and ran > 0:
                return {
                    **result_info,
                    "check": "tests",
                    "test_command": command,
                    "tests_expected": ran,
                    "tests_on_original": f"{ran} passed",
                }
            if run.ok:
                run_status = "no test ran"
            else:
                run_status = f"{run.status.value}: exit {run.exit_code}"
            result_info["tests_on_original"] = (
                f"{run_status}; " + (run.stdout_text[-300:] + run.stderr_text[-300:]).strip()
            )
        result_info["check"] = "static"
        return result_info

    async def _import_check(
        self, baseline: dict[str, Any], graph: nx.DiGraph, removed: str, ctx: Context
    ) -> tuple[list[str], str]:
        """Module names of the dependents that import on the original (empty with the reason if none)."""
        from generators.repo.graph import PyIndex

        index = PyIndex.build(set(baseline["files"]))
        modules = []
        for dep in sorted(dependents(graph, removed)):
            names = index.names_of.get(baseline["prefix"] + dep)
            if names and not any(h in dep for h in TEST_FILE_HINTS):
                modules.append(names[0])
        if not modules:
            return [], "no importable dependent module"
        run = await ctx.sandbox.run(
            sandbox_request(
                baseline["files"],
                import_command(modules, baseline["roots"]),
                time_limit_s=self.config.check_time_limit_s,
                memory_mb=1024,
            )
        )
        if run.ok:
            return modules, ""
        return (
            [],
            f"importing the dependents fails on the original: {(run.stderr_text or run.stdout_text)[-300:]}",
        )

    async def _task(
        self,
        item_id: str,
        repo: RepoFiles,
        graph: nx.DiGraph,
        stats: GraphStats,
        removed: str,
        task: str,
        context: list[tuple[str, str]],
        baseline: dict[str, Any],
        ctx: Context,
    ) -> Record:
        cfg = self.config
        question = (P.DEPENDENTS_TASK if task == "dependents" else P.MISSING_FILE_TASK).format(
            removed=removed
        )
        user = P.render_context(repo.name, context, removed) + "\n" + question
        messages: list[Message] = (
            [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
        ) + [{"role": "user", "content": user}]
        deps = sorted(dependents(graph, removed, include_guarded=cfg.include_guarded))
        repo_task: dict[str, Any] = {
            "task": task,
            "removed": removed,
            "language": graph.nodes[removed]["language"],
            "expected": deps,
        }
        if task == "dependents":
            repo_task["paths"] = sorted(graph.nodes)
        else:
            repo_task["reference"] = repo.files[removed]
            repo_task["required_names"] = sorted(
                {n for d in deps for n in graph.edges[d, removed]["names"].split(",") if n and n != "*"}
                - self._submodule_names(graph, removed)
            )
            check = baseline.get("check", "static")
            if baseline.get("files"):
                repo_task["files"] = {
                    p: t for p, t in baseline["files"].items() if p != baseline["prefix"] + removed
                }
                repo_task["roots"] = baseline["roots"]
                repo_task["sandbox_path"] = baseline["prefix"] + removed
            if check == "tests":
                repo_task["test_command"] = baseline["test_command"]
                repo_task["tests_expected"] = baseline["tests_expected"]
            elif self.config.import_check and baseline.get("files"):
                modules, why = await self._import_check(baseline, graph, removed, ctx)
                if modules:
                    check, repo_task["import_modules"] = "import", modules
                else:
                    repo_task["why_static"] = why
            if check == "static":
                repo_task.pop("files", None)
                repo_task["why_static"] = (
                    repo_task.get("why_static")
                    or baseline.get("why")
                    or baseline.get("tests_on_original")
                    or "no tests"
                )
            if baseline.get("tests_on_original"):
                repo_task["tests_on_original"] = baseline["tests_on_original"]
            repo_task["check"] = check
        params = SamplingParams(
            n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens
        )
        (completions,) = await ctx.generate("policy", [messages], params, seed_key=(removed, task))
        record = Record(
            id=content_hash(self.name, item_id, removed, task),
            capability=self.capability,
            source_id=item_id,
            messages=messages,
            metadata={
                "repo": repo.name,
                "repo_task": repo_task,
                "shown_files": len(context),
                "graph": summary(graph, stats, top=5),
            },
            provenance=ctx.provenance(params=params, parents=[item_id]),
        )
        for index, completion in enumerate(completions):
            record.add_candidate(
                [{"role": "assistant", "content": completion.text}],
                metadata={"finish_reason": completion.finish_reason, "sample": index},
            )
        return record

    @staticmethod
    def _submodule_names(graph: nx.DiGraph, removed: str) -> set[str]:
        """Names imported 'from package import name' that are the package's own submodules."""
        if not posixpath.basename(removed).startswith("__init__."):
            return set()
        folder = posixpath.dirname(removed)
        return {
            posixpath.splitext(posixpath.relpath(n, folder))[0].split("/")[0]
            for n in graph.nodes
            if n.startswith(folder + "/")
        }
