"""Hierarchical summarisation (Llama 3 long context): summarise every chunk, then the summaries, until
one summary is left; then QA on that global summary, asked over the whole document.

For each document:
1. a context of a target length is drawn (the whole document when it is shorter) and cut into
   ``chunk_tokens`` chunks with the policy's tokenizer;
2. level 0: the ``policy`` summarises every chunk; level n+1: consecutive summaries are packed into
   groups of at most ``chunk_tokens`` tokens (two at least) and each group is summarised, until one
   summary remains. Every summary is judged against its inputs (``llm_judge``, ``summary`` rubric:
   faithful, coverage); one that fails is re-sampled up to ``summary_retries`` times;
3. the record ``context -> global summary`` (SFT): its candidate carries the judge's verdict on the
   last summary and a ``summary_tree`` verdict that passes only when every summary of the tree passed;
4. ``summary_questions`` question/answer pairs written from the global summary become records whose
   prompt is the context + the question, verified against the summary (``passage_qa`` rubric, span
   match for short answers).

Recorded reasons, never a crash: an empty or unreadable document, a document shorter than
``min_document_tokens``, a summary the model leaves empty, QA output with nothing parseable, a
prompt longer than the model's context (refused before any call). ``metadata.tree`` holds every
level's summaries and verdicts; ``metadata.stages`` the document's funnel.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from generators.context._chunking import TokenizedText
from generators.context._common import (
    DocumentItem,
    LongContextConfig,
    Resources,
    check_config_fits,
    count_records,
    document_problem,
    draw_window,
    judge_against,
    prompt_tokens,
    qa_record,
    resolve_resources,
)
from generators.context._prompts import long_summary_prompt, parse_qa_pairs, qa_writing_prompt, summary_prompt
from synthgen.context import Context
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator
from synthgen.records import Candidate, Record, Verdict, content_hash, failed_record


class LongSummaryConfig(LongContextConfig):
    summary_max_tokens: int = Field(512, ge=1, description="per summary; two must fit in one chunk")
    summary_retries: int = Field(1, ge=0, description="re-samples of a summary the judge rejects")
    summary_questions: int = Field(3, ge=0, le=50, description="QA pairs written from the global summary")


@dataclass
class Node:
    text: str
    inputs: str  # what was summarised: a chunk, or the joined summaries of the level below
    verdict: Verdict | None = None
    attempts: int = 0
    children: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed


def group_summaries(lengths: list[int], budget: int) -> list[list[int]]:
    """Consecutive indices packed into groups of at most ``budget`` tokens, two per group at least
    (so every level shrinks; a lone last summary joins the previous group)."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, n in enumerate(lengths):
        if current and used + n > budget and len(current) >= 2:
            groups.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        if len(current) == 1 and groups:
            groups[-1].append(current[0])
        else:
            groups.append(current)
    return groups


class LongContextSummaryGenerator(Generator):
    name: ClassVar[str] = "long_context_summary"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "long_context"
    Config: ClassVar[type[BaseModel]] = LongSummaryConfig
    Item: ClassVar[type[BaseModel]] = DocumentItem
    roles: ClassVar[tuple[str, ...]] = ("policy", "judge")

    def _failed(self, item_id: str, ctx: Context, error: str, *key: Any) -> Record:
        return failed_record(content_hash(self.name, item_id, "failed", *key), source_id=item_id,
                             capability=self.capability, error=error,
                             provenance=ctx.provenance(roles=("policy",), parents=[item_id]))

    async def _summarise(self, ctx: Context, nodes: list[Node], level: int, of_summaries: bool) -> None:
        """Fill ``text`` and ``verdict`` of every node; rejected ones are re-sampled with new seeds."""
        cfg: LongSummaryConfig = self.config
        todo = list(range(len(nodes)))
        for attempt in range(cfg.summary_retries + 1):
            params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.summary_max_tokens)
            outs = await ctx.generate("policy", [summary_prompt(nodes[i].inputs, of_summaries=of_summaries)
                                                 for i in todo], params, seed_key=("summary", level, attempt))

            async def judge(i: int, text: str, attempt: int = attempt) -> None:
                node = nodes[i]
                node.text, node.attempts = text.strip(), attempt + 1
                if not node.text:
                    node.verdict = Verdict(verifier="llm_judge", passed=False, feedback="the model wrote no summary")
                    return
                node.verdict = await judge_against(
                    ctx, rubric="summary", role=cfg.judge_role, max_tokens=cfg.judge_max_tokens,
                    passage_messages=summary_prompt(node.inputs, of_summaries=of_summaries),
                    candidate=Candidate(id=content_hash(level, i, attempt), messages=[
                        {"role": "assistant", "content": node.text}]), reference=None, key=(level, i, attempt))

            await asyncio.gather(*(judge(i, o[0].text if o else "") for i, o in zip(todo, outs)))
            todo = [i for i in todo if not nodes[i].passed]
            if not todo:
                return

    async def build_tree(self, ctx: Context, context: TokenizedText, res: Resources) -> list[list[Node]]:
        cfg: LongSummaryConfig = self.config
        levels = [[Node("", c.text) for c in context.chunks(cfg.chunk_tokens, cfg.chunk_overlap)]]
        await self._summarise(ctx, levels[0], 0, of_summaries=False)
        while len(levels[-1]) > 1:
            below = levels[-1]
            lengths = res.chunker.count_many([f"Part {i + 1}:\n{n.text}\n\n" for i, n in enumerate(below)])
            nodes = []
            for group in group_summaries(lengths, cfg.chunk_tokens):
                joined = "".join(f"Part {j + 1}:\n{below[i].text}\n\n" for j, i in enumerate(group)).strip()
                nodes.append(Node("", joined, children=group))
            levels.append(nodes)
            await self._summarise(ctx, nodes, len(levels) - 1, of_summaries=True)
        return levels

    async def generate(self, item: DocumentItem, ctx: Context) -> list[Record]:
        cfg: LongSummaryConfig = self.config
        item_id = item.id or content_hash(item.text)
        problem = document_problem(item)
        if problem:
            rec = self._failed(item_id, ctx, problem)
            rec.metadata["stages"] = {"documents": 1, "failed_documents": 1}
            return [rec]
        res = resolve_resources(self, ctx)
        check_config_fits(cfg, res, answer_tokens=max(cfg.summary_max_tokens, cfg.answer_max_tokens),
                          passage_tokens=cfg.chunk_tokens, passage_reply_tokens=max(cfg.summary_max_tokens,
                                                                                    cfg.qa_max_tokens))
        if 2 * cfg.summary_max_tokens > cfg.chunk_tokens:
            from synthgen.errors import ConfigError

            raise ConfigError(f"two summaries of summary_max_tokens={cfg.summary_max_tokens} must fit one chunk of "
                              f"{cfg.chunk_tokens} tokens, or the tree never shrinks: lower summary_max_tokens",
                              field="generator.options.summary_max_tokens")
        doc = await asyncio.to_thread(res.chunker.tokenize, item.text)
        minimum = cfg.min_document_tokens or cfg.chunk_tokens
        if doc.n_tokens < minimum:
            rec = self._failed(item_id, ctx, f"document has {doc.n_tokens} tokens, shorter than one chunk ({minimum}); "
                               "pack short documents (source `documents.pack_to_tokens`) or lower chunk_tokens")
            rec.metadata["stages"] = {"documents": 1, "failed_documents": 1}
            return [rec]
        window = draw_window(doc, cfg.target_lengths, random.Random(ctx.sample_seed("window")))
        messages = long_summary_prompt(window.text)
        length = prompt_tokens(res.chunker, messages)
        if length + cfg.summary_max_tokens > res.max_context:
            return [self._failed(item_id, ctx, f"prompt of {length} tokens + {cfg.summary_max_tokens} to answer does "
                                 f"not fit the policy model's context of {res.max_context} tokens; refused before "
                                 "any call")]
        context = doc if window.token_start == 0 and window.token_end == doc.n_tokens else \
            await asyncio.to_thread(res.chunker.tokenize, window.text)
        levels = await self.build_tree(ctx, context, res)
        top = levels[-1][0]
        nodes = [n for level in levels for n in level]
        stages: dict[str, float] = {"documents": 1, "document_tokens": doc.n_tokens, "chunks": len(levels[0]),
                                    "summaries": len(nodes), "summaries_verified": sum(n.passed for n in nodes),
                                    "tree_depth": len(levels), "questions": 0}
        tree = {"depth": len(levels), "nodes_per_level": [len(level) for level in levels],
                "levels": [[{"summary": n.text, "passed": n.passed, "attempts": n.attempts, "children": n.children,
                             "feedback": n.verdict.feedback if n.verdict else ""} for n in level] for level in levels]}
        base = {"title": item.title, "document_tokens": doc.n_tokens, "window_token_start": window.token_start}
        if not top.text:
            rec = self._failed(item_id, ctx, "no global summary: the model wrote nothing for the top of the tree")
            rec.metadata.update(tree=tree, stages=stages)
            return [rec]
        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.summary_max_tokens)
        summary = Record(id=content_hash(self.name, item_id, "summary"), capability=self.capability,
                         source_id=item_id, messages=messages,
                         metadata={**base, "task": "summary", "target_tokens": window.target,
                                   "context_tokens": window.token_end - window.token_start,
                                   "prompt_tokens": length, "tree": tree},
                         provenance=ctx.provenance(roles=("policy", cfg.judge_role), params=params,
                                                   parents=[item_id]))
        failed_nodes = len(nodes) - int(stages["summaries_verified"])
        summary.add_candidate([{"role": "assistant", "content": top.text}], verdicts=[
            top.verdict, Verdict(verifier="summary_tree", passed=failed_nodes == 0,
                                 score=stages["summaries_verified"] / len(nodes),
                                 feedback="" if not failed_nodes else f"{failed_nodes} of {len(nodes)} summaries in "
                                                                      "the tree were judged unfaithful or incomplete",
                                 details={"depth": len(levels), "nodes_per_level": tree["nodes_per_level"]})])
        records = [summary] + await self._summary_qa(ctx, res, item_id, window, top.text, base, stages)
        count_records(records, stages)
        summary.metadata["stages"] = stages
        return records

    async def _summary_qa(self, ctx: Context, res: Resources, item_id: str, window: Any, summary: str,
                          base: dict[str, Any], stages: dict[str, float]) -> list[Record]:
        cfg: LongSummaryConfig = self.config
        if not cfg.summary_questions:
            return []
        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.qa_max_tokens)
        (outs,) = await ctx.generate("policy", [qa_writing_prompt(summary, cfg.summary_questions)], params,
                                     seed_key="summary_qa")
        pairs, reason = parse_qa_pairs(outs[0].text if outs else "", cfg.summary_questions)
        if not pairs:
            stages["unparseable_qa"] = 1
            return [self._failed(item_id, ctx, reason, "summary_qa")]
        stages["questions"] = len(pairs)
        return list(await asyncio.gather(*(
            qa_record(self, ctx, res, item_id=item_id, window=window, question=q, answer=a, passage=summary,
                      record_id=content_hash(self.name, item_id, "qa", n, q),
                      metadata={**base, "task": "summary_qa", "reference_source": "global_summary"})
            for n, (q, a) in enumerate(pairs))))
